/// The index's tables: the materialised view of the commit records (FORMAT.md, "Index").
///
/// Keys and values are encoded by the layer above (ObjectStore's `Format/`), so that
/// LMDB's byte order is the order S3 needs.
public final class ObjectIndex: Sendable {
    public let environment: LMDBEnvironment
    /// Checkpoint, last sequence number, format version.
    public let meta: Database
    /// bucket name → bucket entry.
    public let buckets: Database
    /// (bucket, key) → the current version's entry.
    public let objects: Database
    /// (bucket, key, inverted sequence) → a noncurrent version's entry (versioning).
    public let versions: Database
    /// (bucket, key) → the tombstone of the last delete.
    public let tombstones: Database
    /// (bucket, key, upload id) → multipart upload entry.
    public let uploads: Database
    /// (upload id, part number) → part entry.
    public let parts: Database
    /// segment id → live byte and record counts.
    public let segments: Database
    /// (bucket, configuration name) → a bucket configuration document (lifecycle, …).
    public let configs: Database
    /// (segment, offset) → damaged bytes recovery found there and skipped (FORMAT.md,
    /// "Recovery"): `u64 length · u8 kind`. Not a view of commit records: it records
    /// what a scan found, so verification does not compare it with a rebuild.
    public let damaged: Database

    public init(path: String, mapSize: Int = 1 << 38, syncEachCommit: Bool = true) throws {
        environment = try LMDBEnvironment(path: path, mapSize: mapSize, syncEachCommit: syncEachCommit)
        meta = try environment.openDatabase(.meta)
        buckets = try environment.openDatabase(.buckets)
        objects = try environment.openDatabase(.objects)
        versions = try environment.openDatabase(.versions)
        tombstones = try environment.openDatabase(.tombstones)
        uploads = try environment.openDatabase(.uploads)
        parts = try environment.openDatabase(.parts)
        segments = try environment.openDatabase(.segments)
        configs = try environment.openDatabase(.configs)
        damaged = try environment.openDatabase(.damaged)
    }

    /// Every table that a rebuild from segments recreates (all but `meta`).
    public var viewTables: [Database] { [buckets, objects, versions, tombstones, uploads, parts, segments, configs] }

    /// Every table.
    public var allTables: [Database] { [meta] + viewTables + [damaged] }

    /// The database of `table`.
    public func database(for table: Table) -> Database {
        switch table {
        case .meta: return meta
        case .buckets: return buckets
        case .objects: return objects
        case .versions: return versions
        case .tombstones: return tombstones
        case .uploads: return uploads
        case .parts: return parts
        case .segments: return segments
        case .configs: return configs
        case .damaged: return damaged
        }
    }
}

/// The index's tables (FORMAT.md, "Index (LMDB)"), in FORMAT.md order.
///
/// Code that treats tables differently switches over this enum, without a `default`, so
/// adding a table makes the compiler list every place that must handle it. The raw
/// values are the LMDB database names: they are on disk and must not change.
public enum Table: String, CaseIterable, Sendable {
    case meta
    case buckets
    case objects
    case versions
    case tombstones
    case uploads
    case parts
    case segments
    case configs
    case damaged
}
