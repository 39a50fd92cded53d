/// The Object Lock state of one version (extension field 7 of its entry): a retention
/// mode with a date it lasts until, and a legal hold. A version it protects cannot be
/// removed by any request, by lifecycle expiration or (since only removed versions become
/// dead space) by compaction; a delete without a version id still adds a delete marker.
public struct ObjectLock: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        /// Removable early by a request with `x-amz-bypass-governance-retention: true`
        /// from a caller allowed `s3:BypassGovernanceRetention`.
        case governance = "GOVERNANCE"
        /// Removable by nobody until the date; the date can only move later.
        case compliance = "COMPLIANCE"
    }

    public var mode: Mode?
    /// Milliseconds since 1970; set exactly when ``mode`` is.
    public var retainUntil: Int64?
    public var legalHold: Bool

    public init(mode: Mode? = nil, retainUntil: Int64? = nil, legalHold: Bool = false) {
        self.mode = mode
        self.retainUntil = retainUntil
        self.legalHold = legalHold
    }

    /// Nothing set: the same as no lock.
    public var isEmpty: Bool { mode == nil && !legalHold }

    /// Whether the version may not be removed at `now` (ms): a legal hold, or a retention
    /// date still ahead, unless it is GOVERNANCE and the request bypasses it.
    public func protects(now: Int64, bypassingGovernance: Bool) -> Bool {
        if legalHold { return true }
        guard let mode, let retainUntil, retainUntil > now else { return false }
        return mode == .compliance || !bypassingGovernance
    }

    /// What `strata inspect` shows: `GOVERNANCE until 2030-01-01T00:00:00.000Z, legal hold`.
    public var summary: String {
        var parts: [String] = []
        if let mode, let retainUntil { parts.append("\(mode.rawValue) until \(Inspector.iso8601(milliseconds: retainUntil))") }
        if legalHold { parts.append("legal hold") }
        return parts.joined(separator: ", ")
    }

    /// The retention in force at `now`, if any (a passed date protects nothing).
    public func activeRetention(now: Int64) -> (mode: Mode, until: Int64)? {
        guard let mode, let retainUntil, retainUntil > now else { return nil }
        return (mode, retainUntil)
    }
}
