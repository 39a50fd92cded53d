import Crypto
import ObjectIndex
import SegmentLog

/// Key encodings. All integers in keys are big-endian so that byte order is numeric order.
enum IndexKey {
    /// LMDB keys are at most 511 bytes (its compiled-in limit), S3 keys up to 1024.
    /// An object name `u8 len(bucket) · bucket · key` of up to `inlineLimit` bytes is the
    /// LMDB key itself; a longer one is stored as its first `inlineLimit` bytes followed by
    /// 8 bytes of SHA-256 of the whole name ("long form", always `inlineLimit + 8` long).
    /// Byte order is kept everywhere except among long names that share their first
    /// `inlineLimit` bytes: those are adjacent, and `OrderedObjectCursor` sorts them.
    static let inlineLimit = 480

    /// The LMDB key of an object name: all keys of a bucket are adjacent and sort by key bytes.
    static func object(bucket: String, key: some Collection<UInt8>) -> [UInt8] {
        var out = bucketPrefix(bucket)
        out.append(contentsOf: key)
        return storedForm(out)
    }

    /// The LMDB key for a full object name (see `inlineLimit`).
    static func storedForm(_ name: [UInt8]) -> [UInt8] {
        guard name.count > inlineLimit else { return name }
        return Array(name[0..<inlineLimit]) + Array(SHA256.hash(data: name).prefix(8))
    }

    /// Whether an LMDB key is the long form of a longer name.
    static func isLongForm(_ stored: [UInt8]) -> Bool { stored.count == inlineLimit + 8 }

    /// The prefix every object key of `bucket` starts with.
    static func bucketPrefix(_ bucket: String) -> [UInt8] {
        let b = Array(bucket.utf8)
        precondition(b.count < 256)
        return [UInt8(b.count)] + b
    }

    /// Splits a short-form object key back into bucket and key bytes.
    static func decodeObject(_ bytes: [UInt8]) -> (bucket: String, key: [UInt8])? {
        guard let n = bytes.first.map(Int.init), bytes.count >= 1 + n else { return nil }
        return (String(decoding: bytes[1..<(1 + n)], as: UTF8.self), Array(bytes[(1 + n)...]))
    }

    /// `upload id · u32 be part number`.
    static func part(uploadID: String, partNumber: UInt32) -> [UInt8] {
        Array(uploadID.utf8) + bigEndian(partNumber)
    }

    static func segment(_ id: UInt64) -> [UInt8] { bigEndian(id) }

    static func bigEndian<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        withUnsafeBytes(of: v.bigEndian) { Array($0) }
    }

    static func decodeBigEndian<T: FixedWidthInteger>(_ bytes: some Collection<UInt8>, as: T.Type) -> T? {
        guard bytes.count == MemoryLayout<T>.size else { return nil }
        return bytes.reduce(T(0)) { ($0 << 8) | T($1) }
    }

    /// The smallest key greater than every key that starts with `prefix` (nil: none is).
    /// Listing seeks here to skip a whole common prefix in one step.
    static func successor(ofPrefix prefix: [UInt8]) -> [UInt8]? {
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

extension IndexKey {
    /// `uploads` key: `object name · 0x00 · upload id`, so a bucket's uploads list by key,
    /// then by id (= initiation time). At most 488 + 1 + 20 bytes.
    static func upload(bucket: String, key: String, uploadId: String) -> [UInt8] {
        object(bucket: bucket, key: Array(key.utf8)) + [0] + Array(uploadId.utf8)
    }

    /// `tombstones` key of a closed (completed or aborted) upload: `0xFF · upload id`. No
    /// object name starts with 0xFF (its first byte is a bucket-name length ≤ 63).
    static func closedUpload(_ uploadId: String) -> [UInt8] {
        [0xFF] + Array(uploadId.utf8)
    }

    /// Whether a `tombstones` key is a closed upload's.
    static func isClosedUpload(_ key: [UInt8]) -> Bool { key.first == 0xFF }

    /// `tombstones` key of the last reset of the store: the single byte `0xFE` (no object
    /// name starts so: bucket names are at most 63 bytes).
    static let storeReset: [UInt8] = [0xFE]

    /// Whether a `tombstones` key is the store's reset.
    static func isStoreReset(_ key: [UInt8]) -> Bool { key == storeReset }

    /// `tombstones` key of a restore: `0xFD · u64 BE sequence of the restore record`. The
    /// view's commits between the snapshot and the restore are void (FORMAT.md, "Snapshots").
    static func restore(_ sequence: UInt64) -> [UInt8] { [0xFD] + bigEndian(sequence) }

    /// Whether a `tombstones` key is a restore's.
    static func isRestore(_ key: [UInt8]) -> Bool { key.count == 9 && key.first == 0xFD }

    /// `snapshots` key of a saved snapshot: `0x01 · name`.
    static func snapshot(_ name: String) -> [UInt8] { [0x01] + Array(name.utf8) }

    /// `snapshots` key of a deleted snapshot's name: `0x02 · name`.
    static func deletedSnapshot(_ name: String) -> [UInt8] { [0x02] + Array(name.utf8) }

    /// Whether a `snapshots` key is a saved snapshot's (else a deleted one's).
    static func isSavedSnapshot(_ key: [UInt8]) -> Bool { key.first == 0x01 }

    /// Whether a `tombstones` key is a bucket's: its bare name prefix (an object name
    /// with an empty key).
    static func isBucketTombstone(_ key: [UInt8]) -> Bool {
        guard let n = key.first, !isClosedUpload(key), !isStoreReset(key), !isRestore(key) else { return false }
        return key.count == 1 + Int(n)
    }
}

extension IndexKey {
    /// `configs` key: `bucket name · 0x00 · configuration name`.
    static func config(bucket: String, name: BucketConfigName) -> [UInt8] {
        config(bucket: bucket, name: name.rawValue)
    }

    /// `configs` key of a name as a record holds it (maybe one this build does not know).
    static func config(bucket: String, name: String) -> [UInt8] {
        Array(bucket.utf8) + [0] + Array(name.utf8)
    }
}

/// An index value: `u64 sequence · u64 segment · u64 offset · u64 size` of the commit
/// record, then the record's payload verbatim.
struct IndexValue {
    static let prefixSize = 32

    var sequence: UInt64
    var ref: RecordRef
    var payload: [UInt8]

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: Self.prefixSize + payload.count)
        w.write(sequence)
        w.write(ref.segment)
        w.write(ref.offset)
        w.write(ref.size)
        w.write(bytes: payload)
        return w.bytes
    }

    /// Sequence and record reference without copying the payload.
    static func header(_ bytes: [UInt8]) throws -> (sequence: UInt64, ref: RecordRef) {
        var r = ByteReader(bytes)
        let seq = try r.read(UInt64.self)
        let ref = RecordRef(segment: try r.read(UInt64.self), offset: try r.read(UInt64.self), size: try r.read(UInt64.self))
        return (seq, ref)
    }

    static func object(_ bytes: [UInt8], summary: Bool = false) throws -> ObjectInfo {
        let (seq, _) = try header(bytes)
        var info = try Payload.decodeObject(bytes, offset: prefixSize, summary: summary)
        info.sequence = seq
        return info
    }

    static func bucket(_ bytes: [UInt8]) throws -> BucketInfo {
        let (seq, _) = try header(bytes)
        var info = try Payload.decodeBucket(bytes, offset: prefixSize)
        info.sequence = seq
        return info
    }
}

extension IndexValue {
    static func upload(_ bytes: [UInt8]) throws -> UploadInfo {
        try Payload.decodeUpload(bytes, offset: prefixSize)
    }

    static func part(_ bytes: [UInt8]) throws -> PartInfo {
        let (seq, _) = try header(bytes)
        var part = try Payload.decodePart(bytes, offset: prefixSize)
        part.sequence = seq
        return part
    }
}

/// The replay checkpoint and the last sequence number, kept in table `meta` and written
/// in the same transaction as the entries they describe (docs/DESIGN.md, "The index is
/// a view of the log").
struct Checkpoint: Equatable {
    var position: LogPosition
    var lastSequence: UInt64

    static let key = Array("checkpoint".utf8)

    func write(_ txn: Transaction, _ index: ObjectIndex) throws {
        var w = ByteWriter()
        w.write(position.segment)
        w.write(position.offset)
        w.write(lastSequence)
        try txn.put(index.meta, Self.key, w.bytes)
    }

    static func read(_ txn: Transaction, _ index: ObjectIndex) throws -> Checkpoint? {
        guard let bytes = try txn.get(index.meta, key) else { return nil }
        var r = ByteReader(bytes)
        return Checkpoint(position: LogPosition(segment: try r.read(UInt64.self), offset: try r.read(UInt64.self)),
                          lastSequence: try r.read(UInt64.self))
    }
}

/// Live bytes and live commit records of one segment (index table `segments`).
public struct SegmentStats: Sendable, Equatable {
    public var liveBytes: UInt64 = 0
    public var liveRecords: UInt64 = 0

    init() {}

    init(_ bytes: [UInt8]) {
        var r = ByteReader(bytes)
        liveBytes = (try? r.read(UInt64.self)) ?? 0
        liveRecords = (try? r.read(UInt64.self)) ?? 0
    }

    func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.write(liveBytes)
        w.write(liveRecords)
        return w.bytes
    }
}

extension IndexKey {
    /// `damaged` key: `u64 BE segment · u64 BE offset`, so spans sort by place in the log.
    static func damaged(segment: UInt64, offset: UInt64) -> [UInt8] {
        bigEndian(segment) + bigEndian(offset)
    }
}

extension IndexValue {
    /// `damaged` value: `u64 length · u8 damage code`.
    static func damaged(_ span: DamagedSpan) -> [UInt8] {
        var w = ByteWriter()
        w.write(span.length)
        w.write(span.damage.code)
        return w.bytes
    }

    /// The span a `damaged` entry describes; nil for an entry of another shape.
    static func damaged(key: [UInt8], value: [UInt8]) throws -> DamagedSpan? {
        guard key.count == 16, value.count == 9,
              let segment = IndexKey.decodeBigEndian(key[0..<8], as: UInt64.self),
              let offset = IndexKey.decodeBigEndian(key[8..<16], as: UInt64.self) else { return nil }
        var r = ByteReader(value)
        let length = try r.read(UInt64.self)
        let damage = RecordDamage(code: try r.read(UInt8.self)) ?? .badMagic
        return DamagedSpan(segment: segment, offset: offset, length: length, damage: damage)
    }
}
