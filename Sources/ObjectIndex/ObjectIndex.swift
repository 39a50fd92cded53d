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
    /// The named snapshots (FORMAT.md, "Snapshots"): a saved snapshot's name → its
    /// snapshot record, a deleted one's name → its deleteSnapshot record.
    public let snapshots: Database
    /// The store's state as requests see it: the tables above but `meta`, `damaged` and
    /// `snapshots`.
    public let live: IndexView
    /// The views a snapshot can be saved in, each a set of tables like `live`'s
    /// (`snapshot<slot>/objects`, …). They are all opened here, once, so that no database
    /// handle is opened or closed while other transactions run (LMDB requires that); an
    /// unused slot's tables are empty.
    public let snapshotViews: [IndexView]

    /// How many snapshots can exist at once: every slot's eight tables are open in every
    /// transaction, so their number is kept small.
    public static let snapshotSlots = 16

    /// Named databases an environment of the index needs room for.
    public static let databaseCount = 16 + snapshotSlots * IndexView.tableCount

    /// The LMDB name of a snapshot slot's table: `snapshot<slot>/<table>`.
    public static func databaseName(of table: Table, slot: Int) -> String { "snapshot\(slot)/\(table.rawValue)" }

    public init(path: String, mapSize: Int = 1 << 38, syncEachCommit: Bool = true) throws {
        environment = try LMDBEnvironment(path: path, mapSize: mapSize, maxDatabases: Self.databaseCount,
                                          syncEachCommit: syncEachCommit)
        // Every table, the snapshot slots' too, in one transaction.
        let slotTables = (0..<Self.snapshotSlots).flatMap { slot in IndexView.tableKinds.map { ($0, Self.databaseName(of: $0, slot: slot)) } }
        let opened = try environment.openDatabases(Table.allCases.map { ($0, $0.rawValue) } + slotTables)
        let main = Dictionary(uniqueKeysWithValues: opened.prefix(Table.allCases.count).map { ($0.table, $0) })
        meta = main[.meta]!
        buckets = main[.buckets]!
        objects = main[.objects]!
        versions = main[.versions]!
        tombstones = main[.tombstones]!
        uploads = main[.uploads]!
        parts = main[.parts]!
        segments = main[.segments]!
        configs = main[.configs]!
        damaged = main[.damaged]!
        snapshots = main[.snapshots]!
        live = IndexView(buckets: buckets, objects: objects, versions: versions, tombstones: tombstones, uploads: uploads,
                         parts: parts, segments: segments, configs: configs)
        let slots = Array(opened.dropFirst(Table.allCases.count))
        snapshotViews = (0..<Self.snapshotSlots).map { slot in
            let tables = Dictionary(uniqueKeysWithValues: slots[(slot * IndexView.tableCount)..<((slot + 1) * IndexView.tableCount)].map { ($0.table, $0) })
            return IndexView { tables[$0]! }
        }
    }

    /// Every table that a rebuild from segments recreates (all but `meta` and `damaged`):
    /// the live view's, the snapshot catalog, and every snapshot slot's.
    public var viewTables: [Database] { live.tables + [snapshots] + snapshotViews.flatMap(\.tables) }

    /// Every table.
    public var allTables: [Database] { [meta] + viewTables + [damaged] }

    /// Every view: the live one first, then the snapshot slots.
    public var views: [IndexView] { [live] + snapshotViews }

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
        case .snapshots: return snapshots
        }
    }
}

/// One view of the store: the tables a commit record is applied to. The live store is
/// one (``ObjectIndex/live``); a saved snapshot is another, with the same tables under
/// other names, to which the same rules apply (FORMAT.md, "Snapshots").
public struct IndexView: Sendable {
    public let buckets: Database
    public let objects: Database
    public let versions: Database
    public let tombstones: Database
    public let uploads: Database
    public let parts: Database
    /// The live byte and record counts of this view's entries, per segment.
    public let segments: Database
    public let configs: Database

    public static let tableCount = 8

    public init(buckets: Database, objects: Database, versions: Database, tombstones: Database, uploads: Database,
                parts: Database, segments: Database, configs: Database) {
        self.buckets = buckets
        self.objects = objects
        self.versions = versions
        self.tombstones = tombstones
        self.uploads = uploads
        self.parts = parts
        self.segments = segments
        self.configs = configs
    }

    /// The kinds of a view's tables, in ``tables`` order.
    public static let tableKinds: [Table] = [.buckets, .objects, .versions, .tombstones, .uploads, .parts, .segments, .configs]

    init(_ table: (Table) -> Database) {
        self.init(buckets: table(.buckets), objects: table(.objects), versions: table(.versions), tombstones: table(.tombstones),
                  uploads: table(.uploads), parts: table(.parts), segments: table(.segments), configs: table(.configs))
    }

    /// The view's tables.
    public var tables: [Database] { [buckets, objects, versions, tombstones, uploads, parts, segments, configs] }

    /// The view's table of kind `table` (nil for the tables that are not per view).
    public func database(for table: Table) -> Database? {
        switch table {
        case .buckets: buckets
        case .objects: objects
        case .versions: versions
        case .tombstones: tombstones
        case .uploads: uploads
        case .parts: parts
        case .segments: segments
        case .configs: configs
        case .meta, .damaged, .snapshots: nil
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
    case snapshots
}
