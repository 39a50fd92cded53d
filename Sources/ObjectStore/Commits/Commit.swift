import ObjectIndex
import SegmentLog

/// One kind of commit record, and everything the engine does with it.
///
/// Each kind lives in one file of this folder: its payload (decoded once, from the
/// encoding in `Format/`), what it changes in the pending state while it waits for its
/// group sync (``PendingCommits``), its apply rule (``IndexApplier``), how compaction
/// copies the record an index entry names, what `strata verify` expects of such a record,
/// and what `strata inspect` prints about it.
///
/// Adding a kind: a ``RecordType`` case, a file here conforming to this protocol, and a
/// case in ``Commit``; the compiler then names every switch that must learn it.
protocol CommitKind: Sendable {
    /// The record type it is written as.
    static var recordType: RecordType { get }

    /// Whether the record is applied to each view that takes it (the live one, and the
    /// snapshots it belongs to), or once to the index as a whole (snapshot records).
    static var appliesToViews: Bool { get }

    /// Decodes the record's payload (FORMAT.md, "Payload encodings").
    init(decoding payload: [UInt8]) throws

    /// The record's payload.
    func encoded() -> [UInt8]

    /// This commit as a ``Commit``.
    var wrapped: Commit { get }

    /// Written and not yet applied: what the commit changes for the preconditions of the
    /// commits after it. `decided` is what its builder decided with it (see
    /// ``Journal/Built``); `sequence` is the commit's.
    func pend(_ pending: inout PendingCommits, sequence: UInt64, decided: Journal.Built)

    /// Applied to the index: the pending state it set goes (unless a later commit set it
    /// since), and the cached object entries it may have changed are named.
    func settle(_ pending: inout PendingCommits, sequence: UInt64) -> CacheEffect

    /// The apply rule (FORMAT.md, "Applying a commit record").
    func apply(_ applier: IndexApplier, _ record: CommitRecord) throws

    /// Verify: whether an entry of `table` at `key` may have a record of this kind as its
    /// commit record (FORMAT.md, "Index").
    static func isCommitRecord(ofEntryIn table: Table, key: [UInt8]) -> Bool

    /// Verify: whether an entry whose payload is `entry` describes this record, whose
    /// payload is `record`. Most entries hold their record's payload verbatim.
    static func entry(_ entry: [UInt8], describes record: [UInt8], table: Table, key: [UInt8]) -> Bool

    /// Compaction: the record that carries the entry onward once the segment holding its
    /// commit record (or some of its bytes) is deleted; nil if it needs none of its own.
    /// `move` copies the extents in the segments being compacted and returns the new ones.
    static func compactionCopy(of entry: CompactionEntry, move: ([Extent]) throws -> [Extent],
                               isLive: (Table, [UInt8]) throws -> Bool) throws -> (type: RecordType, payload: [UInt8])?

    /// `strata inspect`: the names the record carries.
    func describe(_ summary: inout Inspector.RecordSummary)
}

extension CommitKind {
    static var appliesToViews: Bool { true }

    static func entry(_ entry: [UInt8], describes record: [UInt8], table: Table, key: [UInt8]) -> Bool {
        entry == record
    }

    /// The plain copy: the same payload, for entries with no bytes of their own.
    static func compactionCopy(of entry: CompactionEntry, move: ([Extent]) throws -> [Extent],
                               isLive: (Table, [UInt8]) throws -> Bool) throws -> (type: RecordType, payload: [UInt8])? {
        (recordType, entry.payload)
    }
}

/// Which cached object entries an applied commit may have changed (see ``ObjectCache``).
enum CacheEffect {
    case none
    case object(ObjectCache.Name)
    /// Any number of objects: the whole cache is dropped.
    case everything
}

/// An index entry that compaction moves: its table, key, and the commit it names.
struct CompactionEntry {
    var table: Table
    var key: [UInt8]
    var sequence: UInt64
    var ref: RecordRef
    /// The index value's payload (the commit record's, for most entries).
    var payload: [UInt8]
}

/// A commit record's payload, decoded once.
enum Commit: Sendable {
    case putObject(PutObjectCommit)
    case deleteObject(DeleteObjectCommit)
    case createBucket(CreateBucketCommit)
    case deleteBucket(DeleteBucketCommit)
    case createUpload(CreateUploadCommit)
    case putPart(PutPartCommit)
    case abortUpload(AbortUploadCommit)
    case bucketConfig(BucketConfigCommit)
    case reset(ResetCommit)
    case snapshot(SnapshotCommit)
    case restore(RestoreCommit)
    case deleteSnapshot(DeleteSnapshotCommit)

    /// The kind, with its rules.
    var kind: any CommitKind {
        switch self {
        case .putObject(let c): c
        case .deleteObject(let c): c
        case .createBucket(let c): c
        case .deleteBucket(let c): c
        case .createUpload(let c): c
        case .putPart(let c): c
        case .abortUpload(let c): c
        case .bucketConfig(let c): c
        case .reset(let c): c
        case .snapshot(let c): c
        case .restore(let c): c
        case .deleteSnapshot(let c): c
        }
    }

    /// The kind written as `type`; nil for the records that commit nothing (data, seal)
    /// and for types this build reads but does not support.
    static func kind(of type: RecordType) -> (any CommitKind.Type)? {
        switch type {
        case .putObject: PutObjectCommit.self
        case .deleteObject: DeleteObjectCommit.self
        case .createBucket: CreateBucketCommit.self
        case .deleteBucket: DeleteBucketCommit.self
        case .createUpload: CreateUploadCommit.self
        case .putPart: PutPartCommit.self
        case .abortUpload: AbortUploadCommit.self
        case .bucketConfig: BucketConfigCommit.self
        case .reset: ResetCommit.self
        case .snapshot: SnapshotCommit.self
        case .restore: RestoreCommit.self
        case .deleteSnapshot: DeleteSnapshotCommit.self
        case .data, .seal, .relocate: nil
        }
    }

    /// Every kind.
    static let kinds: [any CommitKind.Type] = RecordType.allCases.compactMap(kind(of:))

    /// Decodes a record of `type`; throws for a type that commits nothing.
    init(type: RecordType, payload: [UInt8]) throws {
        guard let kind = Self.kind(of: type) else {
            throw StoreError(.corrupt, "record type \(type) is not a commit this version supports")
        }
        self = try kind.init(decoding: payload).wrapped
    }

    var type: RecordType { Swift.type(of: kind).recordType }

    /// The kinds whose records an entry of `table` at `key` may name (FORMAT.md, "Index").
    static func kinds(ofEntryIn table: Table, key: [UInt8]) -> [any CommitKind.Type] {
        kinds.filter { $0.isCommitRecord(ofEntryIn: table, key: key) }
    }
}

/// A commit record as the index sees it: written by the live store, or found by replay.
struct CommitRecord: Sendable {
    var commit: Commit
    var sequence: UInt64
    var ref: RecordRef
    var payload: [UInt8]

    var type: RecordType { commit.type }

    /// A record read back (replay, compaction's copy): its payload is decoded here, once.
    init(type: RecordType, sequence: UInt64, ref: RecordRef, payload: [UInt8]) throws {
        self.init(commit: try Commit(type: type, payload: payload), sequence: sequence, ref: ref, payload: payload)
    }

    init(commit: Commit, sequence: UInt64, ref: RecordRef, payload: [UInt8]) {
        self.commit = commit
        self.sequence = sequence
        self.ref = ref
        self.payload = payload
    }
}
