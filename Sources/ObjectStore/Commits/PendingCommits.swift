import ObjectIndex

/// The commits written to the log and not yet applied to the index, as the preconditions
/// of later commits see them (``Journal/View`` reads this first, then the index).
///
/// A plain value: the journal keeps one under its lock; each ``CommitKind`` sets its part
/// when its record is written (`pend`) and clears it when the record is applied
/// (`settle`), unless a later commit has set the same name since: every entry remembers
/// the sequence of the commit that set it, and only that commit's settle removes it.
struct PendingCommits {
    /// A key's state after its latest pending commit.
    struct Object {
        var sequence: UInt64
        var bucket: String
        var key: String
        /// The current version after the commit, if it is an object (not a delete marker).
        var object: ObjectInfo?
        /// The key's live versions after the commit (delete markers included).
        var versions: VersionsAfter
    }

    /// What the pending state says about something, or that only the index knows.
    enum Lookup<Value> {
        case pending(Value)
        case askIndex
    }

    private(set) var objects: [[UInt8]: Object] = [:]
    private(set) var buckets: [String: (sequence: UInt64, exists: Bool, attributes: [String: String]?)] = [:]
    private(set) var uploads: [String: (sequence: UInt64, open: Bool, bucket: String?)] = [:]
    private(set) var parts: [[UInt8]: UInt64] = [:]
    /// By `configs` key.
    private(set) var configs: [[UInt8]: (sequence: UInt64, document: [UInt8])] = [:]

    var isEmpty: Bool { objects.isEmpty && buckets.isEmpty && uploads.isEmpty && parts.isEmpty && configs.isEmpty }

    // MARK: Objects

    /// A commit of `bucket`/`key`: its current object and what it does to the key's
    /// versions, on top of the key's earlier pending commits.
    mutating func setObject(bucket: String, key: String, sequence: UInt64, object: ObjectInfo?, versions: VersionsAfter) {
        let name = IndexKey.object(bucket: bucket, key: Array(key.utf8))
        objects[name] = Object(sequence: sequence, bucket: bucket, key: key, object: object,
                               versions: objects[name].map { $0.versions.then(versions) } ?? versions)
    }

    /// An object commit as its builder decided it: versions added with sequence 0 are
    /// the commit's own.
    mutating func setObject(bucket: String, key: String, sequence: UInt64, decided: Journal.Built) {
        let after: VersionsAfter
        if let changes = decided.versions {
            after = .indexPlus(changes.map { change in
                guard case .add(var info) = change, info.sequence == 0 else { return change }
                info.sequence = sequence
                return .add(info)
            })
        } else {
            after = .exactly(decided.object.map { [$0] } ?? [])
        }
        setObject(bucket: bucket, key: key, sequence: sequence, object: decided.object, versions: after)
    }

    mutating func settleObject(bucket: String, key: String, sequence: UInt64) {
        let name = IndexKey.object(bucket: bucket, key: Array(key.utf8))
        if objects[name]?.sequence == sequence { objects[name] = nil }
    }

    /// The key's current object, if a pending commit decided it (`.pending(nil)`: none).
    func object(bucket: String, key: String) -> Lookup<ObjectInfo?> {
        objects[IndexKey.object(bucket: bucket, key: Array(key.utf8))].map { .pending($0.object) } ?? .askIndex
    }

    // MARK: Buckets

    mutating func setBucket(_ name: String, sequence: UInt64, exists: Bool, attributes: [String: String]? = nil) {
        buckets[name] = (sequence, exists, exists ? attributes ?? [:] : nil)
    }

    mutating func settleBucket(_ name: String, sequence: UInt64) {
        if buckets[name]?.sequence == sequence { buckets[name] = nil }
    }

    func bucketExists(_ name: String) -> Lookup<Bool> {
        buckets[name].map { .pending($0.exists) } ?? .askIndex
    }

    /// The creation attributes of a pending bucket (nil: a pending delete).
    func bucketAttributes(_ name: String) -> Lookup<[String: String]?> {
        buckets[name].map { .pending($0.attributes) } ?? .askIndex
    }

    // MARK: Bucket configurations

    mutating func setConfig(bucket: String, name: String, sequence: UInt64, document: [UInt8]) {
        configs[IndexKey.config(bucket: bucket, name: name)] = (sequence, document)
    }

    mutating func settleConfig(bucket: String, name: String, sequence: UInt64) {
        let k = IndexKey.config(bucket: bucket, name: name)
        if configs[k]?.sequence == sequence { configs[k] = nil }
    }

    /// A configuration document as of the latest pending commit (`.pending(nil)`: none, or
    /// removed, or dropped by a pending create or delete of its bucket).
    func config(bucket: String, name: BucketConfigName) -> Lookup<[UInt8]?> {
        if let p = configs[IndexKey.config(bucket: bucket, name: name)] {
            // A pending re-create of the bucket after the document drops it.
            if let b = buckets[bucket], b.sequence > p.sequence { return .pending(nil) }
            return .pending(p.document.isEmpty ? nil : p.document)
        }
        // A pending create or delete of the bucket is newer than any stored document.
        return buckets[bucket] != nil ? .pending(nil) : .askIndex
    }

    // MARK: Multipart uploads

    mutating func openUpload(_ uploadId: String, bucket: String, sequence: UInt64) { uploads[uploadId] = (sequence, true, bucket) }
    mutating func closeUpload(_ uploadId: String, sequence: UInt64) { uploads[uploadId] = (sequence, false, nil) }

    mutating func settleUpload(_ uploadId: String, sequence: UInt64) {
        if uploads[uploadId]?.sequence == sequence { uploads[uploadId] = nil }
    }

    /// Whether the upload is open (`.pending(false)`: closed by a pending commit).
    /// `created` is the upload's creating sequence from the index, asked only when
    /// no pending commit opened or closed it.
    func uploadIsOpen(_ uploadId: String, bucket: String, created: () throws -> UInt64?) rethrows -> Bool {
        let createdAt: UInt64
        if let p = uploads[uploadId] {
            guard p.open else { return false }
            createdAt = p.sequence
        } else {
            guard let sequence = try created() else { return false }
            createdAt = sequence
        }
        // A pending deleteBucket (or a re-create, which implies one) newer than the
        // upload closes it when applied: it is closed already for new commits, or an
        // acknowledged part would be dropped by the applier.
        if let pending = buckets[bucket], pending.sequence > createdAt { return false }
        return true
    }

    /// Whether a pending commit opened an upload in `bucket` that is still open.
    func opensUpload(inBucket bucket: String) -> Bool {
        uploads.values.contains { $0.open && $0.bucket == bucket }
    }

    /// Whether a pending commit closed the upload.
    func closed(upload uploadId: String) -> Bool { uploads[uploadId]?.open == false }

    mutating func setPart(_ key: [UInt8], sequence: UInt64) { parts[key] = sequence }

    mutating func settlePart(_ key: [UInt8], sequence: UInt64) {
        if parts[key] == sequence { parts[key] = nil }
    }

    /// The sequence of the part's latest pending commit.
    func partSequence(_ key: [UInt8]) -> Lookup<UInt64> {
        parts[key].map { .pending($0) } ?? .askIndex
    }
}

/// What a commit does to a key's versions, as seen before it reaches the index.
enum VersionChange: Sendable, Equatable {
    /// A new version (sequence 0 in a builder: the commit's own, set when numbered).
    case add(ObjectInfo)
    /// The version with this order sequence (``ObjectInfo/orderSequence``) goes.
    case remove(order: UInt64)
    /// The null version goes (replaced or deleted).
    case removeNull
}

/// A key's versions after a pending commit.
///
/// `indexPlus` lists changes on top of the index, so a PUT in a versioned bucket needs
/// no read of the key's (possibly many) versions under the lock. Each change sets the
/// presence of a version, so applying a prefix of them again to an index that already
/// has those commits applied changes nothing: the pending entry of a key can span
/// commits of which the group committer has applied some.
enum VersionsAfter: Sendable, Equatable {
    case exactly([ObjectInfo])
    case indexPlus([VersionChange])

    func resolve(index list: () throws -> [ObjectInfo]) rethrows -> [ObjectInfo] {
        switch self {
        case .exactly(let versions): return versions
        case .indexPlus(let changes): return Self.apply(changes, to: try list())
        }
    }

    /// After `change` (a later commit's) on top of this.
    func then(_ change: VersionsAfter) -> VersionsAfter {
        switch (self, change) {
        case (_, .exactly): return change
        case (.exactly(let list), .indexPlus(let changes)): return .exactly(Self.apply(changes, to: list))
        case (.indexPlus(let mine), .indexPlus(let changes)): return .indexPlus(mine + changes)
        }
    }

    static func apply(_ changes: [VersionChange], to list: [ObjectInfo]) -> [ObjectInfo] {
        var out = list
        for change in changes {
            switch change {
            case .add(let info): if !out.contains(where: { $0.sequence == info.sequence }) { out.append(info) }
            case .remove(let order): out.removeAll { $0.orderSequence == order }
            case .removeNull: out.removeAll { $0.versionID.isEmpty }
            }
        }
        return out.sorted { $0.orderSequence > $1.orderSequence }
    }
}
