import ObjectIndex
import SegmentLog

/// A saved snapshot, as listed.
public struct SnapshotInfo: Sendable, Equatable, Codable {
    public var name: String
    /// The snapshot record's sequence: the state after every commit up to it.
    public var sequence: UInt64
    /// When it was saved (ms since 1970).
    public var created: Int64
    public var buckets: Int
    /// Object versions: current objects, noncurrent versions and delete markers.
    public var objects: Int
    /// Bytes of the log the snapshot refers to (its entries' records and extents); those
    /// compaction keeps while it exists.
    public var bytes: UInt64

    /// As the admin API answers it and `strata snapshot` prints it: name, sequence,
    /// created (ISO 8601, UTC, milliseconds), buckets, objects, bytes.
    public var jsonObject: [String: Any] {
        ["name": name, "sequence": sequence, "created": Inspector.iso8601(milliseconds: created), "buckets": buckets,
         "objects": objects, "bytes": bytes]
    }
}

extension ObjectStore {
    /// Snapshot names: 1–64 characters of letters, digits, `.`, `_` and `-`, not `.` or
    /// `..` (they are a path segment of the admin API and a file-safe word).
    static func checkSnapshotName(_ name: String) throws {
        let allowed = { (c: UInt8) in
            (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x2E || c == 0x5F || c == 0x2D
        }
        let bytes = Array(name.utf8)
        // "." and ".." would vanish from a URL path.
        guard (1...64).contains(bytes.count), bytes.allSatisfy(allowed), name != ".", name != ".." else {
            throw StoreError(.invalidArgument, "A snapshot name is 1 to 64 letters, digits, '.', '_' or '-': \(name)")
        }
    }

    /// Saves the store's state under `name` (replacing a snapshot of that name): buckets,
    /// objects, versions, configurations and open uploads, as of the snapshot record's
    /// place in the log. No object bytes are copied: the snapshot is a copy of the index
    /// entries (FORMAT.md, "Snapshots"), and the segments they point into are kept.
    /// Other requests go on meanwhile; what was committed before the record is in the
    /// snapshot, what comes after is not.
    ///
    /// Crash safety: the record is durable before this returns, and replay applies it
    /// where it is in the log, with everything before it applied first; compaction never
    /// moves it.
    @discardableResult
    public func saveSnapshot(_ name: String) async throws -> SnapshotInfo {
        try Self.checkSnapshotName(name)
        try beginSnapshotChange()
        defer { endSnapshotChange() }
        let journal = self.journal, index = self.index
        try await io {
            _ = try journal.append { view in
                // No other snapshot change is pending (`beginSnapshotChange`), so the
                // index's catalog is the whole truth.
                let saved = try Snapshots.saved(index, view.txn)
                let slot = try saved.first { $0.name == name }?.slot
                    ?? (0..<index.snapshotViews.count).first { slot in !saved.contains { $0.slot == slot } }
                    ?? { throw StoreError(.tooManySnapshots, "There are \(saved.count) snapshots already, the most a store keeps; delete one first") }()
                return Journal.Built(commit: .snapshot(SnapshotCommit(slot: UInt8(slot), name: name, time: Self.now())))
            }
        }
        try await waitDurable()
        return try await snapshot(named: name)
    }

    /// Returns the store to the state saved as `name`, exactly: every commit since the
    /// snapshot is undone (the bytes they wrote become dead space for compaction).
    /// Requests that commit while the restore is written are refused with SlowDown
    /// (503, which clients retry); those committed before it are undone with the rest.
    /// `recreating` buckets (a server's startup buckets) are made again if the snapshot
    /// has none of that name.
    ///
    /// Crash safety: one record, durable before this returns; replay applies it where it
    /// is in the log, where the snapshot it names exists (compaction keeps both records).
    @discardableResult
    public func restoreSnapshot(_ name: String, recreating buckets: [(name: String, attributes: [String: String])] = [])
        async throws -> SnapshotInfo {
        try Self.checkSnapshotName(name)
        try beginSnapshotChange()
        defer { endSnapshotChange() }
        let journal = self.journal
        try journal.beginExclusive("restored")
        defer { journal.endExclusive() }
        let saved = try await savedSnapshot(name)
        try await io {
            _ = try journal.appendExclusive { _ in
                Journal.Built(commit: .restore(RestoreCommit(name: name, snapshotSequence: saved.sequence, snapshotSegment: saved.ref.segment,
                                                             time: Self.now())))
            }
        }
        try await waitDurable()
        try await recreate(buckets)
        return try await snapshot(named: name)
    }

    /// Deletes the snapshot `name`; what only it referred to becomes dead space.
    public func deleteSnapshot(_ name: String) async throws {
        try Self.checkSnapshotName(name)
        try beginSnapshotChange()
        defer { endSnapshotChange() }
        _ = try await savedSnapshot(name)
        let journal = self.journal
        try await io { _ = try journal.append(.deleteSnapshot(DeleteSnapshotCommit(name: name))) { _ in } }
        try await waitDurable()
    }

    /// Every saved snapshot, by name.
    public func snapshots() async throws -> [SnapshotInfo] {
        let index = self.index
        return try await io {
            try index.environment.read { txn in try Snapshots.saved(index, txn).map { try Self.info($0, index, txn) } }
        }
    }

    /// The snapshot `name` (NoSuchSnapshot if there is none).
    public func snapshot(named name: String) async throws -> SnapshotInfo {
        let index = self.index, saved = try await savedSnapshot(name)
        return try await io { try index.environment.read { txn in try Self.info(saved, index, txn) } }
    }

    private func savedSnapshot(_ name: String) async throws -> Snapshots.Saved {
        let index = self.index
        let saved = try await io { try index.environment.read { txn in try Snapshots.saved(index, txn).first { $0.name == name } } }
        guard let saved else { throw StoreError(.noSuchSnapshot, "The specified snapshot does not exist: \(name)") }
        return saved
    }

    private static func info(_ saved: Snapshots.Saved, _ index: ObjectIndex, _ txn: Transaction) throws -> SnapshotInfo {
        let view = index.snapshotViews[saved.slot]
        var bytes: UInt64 = 0
        try txn.withCursor(view.segments) { c in
            var entry = try c.first()
            while let e = entry {
                bytes += SegmentStats(e.value).liveBytes
                entry = try c.next()
            }
        }
        return SnapshotInfo(name: saved.name, sequence: saved.sequence, created: saved.time, buckets: try txn.count(view.buckets),
                            objects: try txn.count(view.objects) + (try txn.count(view.versions)), bytes: bytes)
    }

    /// One snapshot change at a time: a save picks its slot from the catalog, which must
    /// not have another snapshot record pending.
    private func beginSnapshotChange() throws {
        try snapshotChange.withLock { busy in
            if busy { throw StoreError(.slowDown, "Another snapshot is being saved, restored or deleted; try again") }
            busy = true
        }
    }

    private func endSnapshotChange() {
        snapshotChange.withLock { $0 = false }
    }
}
