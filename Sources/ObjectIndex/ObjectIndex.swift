import Crypto

/// The index's tables: the materialised view of the commit records (FORMAT.md, "Index").
///
/// Keys are encoded here so that LMDB's byte order is the order S3 needs; values are
/// the byte encodings owned by the layer above (ObjectStore), which also writes them
/// into commit records.
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

/// Key encodings. All integers in keys are big-endian so that byte order is numeric order.
public enum IndexKey {
    /// LMDB keys are at most 511 bytes (its compiled-in limit), S3 keys up to 1024.
    /// An object name `u8 len(bucket) · bucket · key` of up to `inlineLimit` bytes is the
    /// LMDB key itself; a longer one is stored as its first `inlineLimit` bytes followed by
    /// 8 bytes of SHA-256 of the whole name ("long form", always `inlineLimit + 8` long).
    /// Byte order is kept everywhere except among long names that share their first
    /// `inlineLimit` bytes: those are adjacent, and `OrderedObjectCursor` sorts them.
    public static let inlineLimit = 480

    /// The LMDB key of an object name: all keys of a bucket are adjacent and sort by key bytes.
    public static func object(bucket: String, key: some Collection<UInt8>) -> [UInt8] {
        var out = bucketPrefix(bucket)
        out.append(contentsOf: key)
        return storedForm(out)
    }

    /// The LMDB key for a full object name (see `inlineLimit`).
    public static func storedForm(_ name: [UInt8]) -> [UInt8] {
        guard name.count > inlineLimit else { return name }
        return Array(name[0..<inlineLimit]) + Array(SHA256.hash(data: name).prefix(8))
    }

    /// Whether an LMDB key is the long form of a longer name.
    public static func isLongForm(_ stored: [UInt8]) -> Bool { stored.count == inlineLimit + 8 }

    /// The prefix every object key of `bucket` starts with.
    public static func bucketPrefix(_ bucket: String) -> [UInt8] {
        let b = Array(bucket.utf8)
        precondition(b.count < 256)
        return [UInt8(b.count)] + b
    }

    /// Splits a short-form object key back into bucket and key bytes.
    public static func decodeObject(_ bytes: [UInt8]) -> (bucket: String, key: [UInt8])? {
        guard let n = bytes.first.map(Int.init), bytes.count >= 1 + n else { return nil }
        return (String(decoding: bytes[1..<(1 + n)], as: UTF8.self), Array(bytes[(1 + n)...]))
    }

    /// A `versions` key: `name · 0x00 · u64 BE (~order)`, so a key's versions sort newest
    /// first (FORMAT.md, "Versions"). `order` is the version's order sequence.
    public static func version(_ name: [UInt8], order: UInt64) -> [UInt8] {
        name + [0] + bigEndian(~order)
    }

    /// The bytes a `versions` key adds to its object name.
    public static let versionSuffixSize = 9

    /// The object name of a `versions` key.
    public static func name(ofVersionKey key: [UInt8]) -> [UInt8] { Array(key.dropLast(versionSuffixSize)) }

    /// The order sequence a `versions` key ends with.
    public static func order(ofVersionKey key: [UInt8]) -> UInt64 {
        ~(decodeBigEndian(key.suffix(8), as: UInt64.self) ?? 0)
    }

    /// Whether `key` (which starts with `name · 0x00`) is a `versions` key of `name` itself.
    /// A long-form name (the first 480 bytes of a longer name, then 8 bytes of its hash)
    /// extends the 480-byte name it starts with, and when its hash starts with 0x00 its
    /// version keys start with that name's `name · 0x00` too (sorting before the name's own,
    /// whose `~sequence` starts 0xFF); only the length tells them apart.
    public static func isVersionKey(_ key: [UInt8], of name: [UInt8]) -> Bool {
        key.count == name.count + versionSuffixSize
    }

    /// `upload id · u32 be part number`.
    public static func part(uploadID: String, partNumber: UInt32) -> [UInt8] {
        Array(uploadID.utf8) + bigEndian(partNumber)
    }

    public static func segment(_ id: UInt64) -> [UInt8] { bigEndian(id) }

    public static func bigEndian<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        withUnsafeBytes(of: v.bigEndian) { Array($0) }
    }

    public static func decodeBigEndian<T: FixedWidthInteger>(_ bytes: some Collection<UInt8>, as: T.Type) -> T? {
        guard bytes.count == MemoryLayout<T>.size else { return nil }
        return bytes.reduce(T(0)) { ($0 << 8) | T($1) }
    }

    /// The smallest key greater than every key that starts with `prefix` (nil: none is).
    /// Listing seeks here to skip a whole common prefix in one step.
    public static func successor(ofPrefix prefix: [UInt8]) -> [UInt8]? {
        var p = prefix
        while let last = p.last {
            if last < 0xFF {
                p[p.count - 1] = last + 1
                return p
            }
            p.removeLast()
        }
        return nil
    }
}
