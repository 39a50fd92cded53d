import ObjectIndex
import SegmentLog

/// An in-progress multipart upload.
public struct UploadInfo: Sendable, Equatable {
    public var bucket: String
    public var key: String
    /// Opaque id: 12 hex digits of the creation time in ms, then 8 random hex digits, so
    /// ids sort by initiation (ListMultipartUploads order) and fit an LMDB key after a
    /// long-form object name.
    public var uploadId: String
    /// Milliseconds since 1970.
    public var initiated: Int64
    /// Headers stored with the object at completion, as for a PUT.
    public var metadata: [String: String]
    /// `x-amz-checksum-algorithm` given at creation (wire name, e.g. `CRC32`), if any.
    public var checksumAlgorithm: String?
    /// `COMPOSITE` or `FULL_OBJECT` when checksumAlgorithm is set.
    public var checksumType: String?
    /// The encoded ACL the object gets at completion (``ObjectInfo/acl``).
    public var acl: [UInt8] = []
    /// The canonical id of whoever started the upload (ListMultipartUploads' Initiator).
    public var initiator: String?
    /// Tags given at creation (`x-amz-tagging`), set on the object at completion
    /// (extension field 1 of the createUpload payload).
    public var tags: [String: String]

    public init(bucket: String, key: String, uploadId: String, initiated: Int64, metadata: [String: String],
                checksumAlgorithm: String?, checksumType: String?, tags: [String: String] = [:]) {
        self.tags = tags
        self.bucket = bucket
        self.key = key
        self.uploadId = uploadId
        self.initiated = initiated
        self.metadata = metadata
        self.checksumAlgorithm = checksumAlgorithm
        self.checksumType = checksumType
    }
}

/// One uploaded part.
public struct PartInfo: Sendable, Equatable {
    public var partNumber: Int
    public var size: UInt64
    public var lastModified: Int64
    /// Hex MD5 of the part, unquoted.
    public var etag: String
    /// Checksums by wire name (`CRC32`, …), base64.
    public var checksums: [String: String]
    /// Where the part's bytes live, in order.
    public var extents: [Extent]
    /// The part's commit sequence number.
    public internal(set) var sequence: UInt64 = 0
    var uploadId: String = ""
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

    /// Whether a `tombstones` key is a bucket's: its bare name prefix (an object name
    /// with an empty key).
    static func isBucketTombstone(_ key: [UInt8]) -> Bool {
        guard let n = key.first, !isClosedUpload(key) else { return false }
        return key.count == 1 + Int(n)
    }
}

extension Payload {
    /// createUpload: `u8 1 · string bucket · string key · string uploadId · i64 initiated ·
    /// pairs metadata · pairs attributes (checksum-algorithm, checksum-type) · extension area`.
    static func encode(_ u: UploadInfo) -> [UInt8] {
        var w = ByteWriter()
        w.write(version)
        w.writeString(u.bucket)
        w.writeString(u.key)
        w.writeString(u.uploadId)
        w.write(u.initiated)
        writePairs(&w, u.metadata)
        var attributes: [String: String] = [:]
        attributes["checksum-algorithm"] = u.checksumAlgorithm
        attributes["checksum-type"] = u.checksumType
        if !u.acl.isEmpty { attributes["acl"] = String(decoding: u.acl, as: UTF8.self) }
        attributes["initiator"] = u.initiator
        writePairs(&w, attributes)
        var area = ExtensionArea()
        if !u.tags.isEmpty {
            var field = ByteWriter()
            writePairs(&field, u.tags)
            area.add(UploadExtension.tags, field.bytes)
        }
        area.write(to: &w)
        return w.bytes
    }

    /// Extension tags of the createUpload payload.
    enum UploadExtension {
        /// `pairs`: the tags the completed object gets.
        static let tags: UInt16 = 1
    }

    static func decodeUpload(_ bytes: [UInt8], offset: Int = 0) throws -> UploadInfo {
        var r = ByteReader(bytes, offset: offset)
        try expectVersion(&r)
        let bucket = try r.readString(), key = try r.readString(), id = try r.readString()
        let initiated = try r.read(Int64.self)
        let metadata = try readPairs(&r), attributes = try readPairs(&r)
        var tags: [String: String] = [:]
        for _ in 0..<(try r.read(UInt16.self)) {
            let tag = try r.read(UInt16.self)
            let value = try r.readBlob()
            if tag == UploadExtension.tags {
                var field = ByteReader(value)
                tags = try readPairs(&field)
            }
        }
        var upload = UploadInfo(bucket: bucket, key: key, uploadId: id, initiated: initiated, metadata: metadata,
                                checksumAlgorithm: attributes["checksum-algorithm"], checksumType: attributes["checksum-type"],
                                tags: tags)
        upload.acl = attributes["acl"].map { Array($0.utf8) } ?? []
        upload.initiator = attributes["initiator"]
        return upload
    }

    /// putPart: `u8 1 · string uploadId · u32 partNumber · u64 size · i64 lastModified ·
    /// string etag · pairs checksums · u32 m · (u64 segment · u64 offset · u64 length) × m ·
    /// extension area`.
    static func encode(_ p: PartInfo) -> [UInt8] {
        var w = ByteWriter(capacity: 96 + p.extents.count * 24)
        w.write(version)
        w.writeString(p.uploadId)
        w.write(UInt32(p.partNumber))
        w.write(p.size)
        w.write(p.lastModified)
        w.writeString(p.etag)
        writePairs(&w, p.checksums)
        w.write(UInt32(p.extents.count))
        for e in p.extents {
            w.write(e.segment)
            w.write(e.offset)
            w.write(e.length)
        }
        ExtensionArea().write(to: &w)  // no extension fields
        return w.bytes
    }

    static func decodePart(_ bytes: [UInt8], offset: Int = 0) throws -> PartInfo {
        var r = ByteReader(bytes, offset: offset)
        try expectVersion(&r)
        let id = try r.readString()
        let number = Int(try r.read(UInt32.self))
        let size = try r.read(UInt64.self), lastModified = try r.read(Int64.self)
        let etag = try r.readString()
        let checksums = try readPairs(&r)
        let count = Int(try r.read(UInt32.self))
        guard count <= r.remaining / 24 else { throw ByteReader.Truncated() }
        var extents: [Extent] = []
        for _ in 0..<count {
            extents.append(Extent(segment: try r.read(UInt64.self), offset: try r.read(UInt64.self), length: try r.read(UInt64.self)))
        }
        try skipExtensions(&r)
        var part = PartInfo(partNumber: number, size: size, lastModified: lastModified, etag: etag,
                            checksums: checksums, extents: extents)
        part.uploadId = id
        return part
    }

    /// abortUpload: `u8 1 · string bucket · string key · string uploadId · extension area`.
    static func encodeAbort(bucket: String, key: String, uploadId: String) -> [UInt8] {
        var w = ByteWriter()
        w.write(version)
        w.writeString(bucket)
        w.writeString(key)
        w.writeString(uploadId)
        ExtensionArea().write(to: &w)  // no extension fields
        return w.bytes
    }

    static func decodeAbort(_ bytes: [UInt8]) throws -> (bucket: String, key: String, uploadId: String) {
        var r = ByteReader(bytes)
        try expectVersion(&r)
        let result = (try r.readString(), try r.readString(), try r.readString())
        try skipExtensions(&r)
        return result
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
