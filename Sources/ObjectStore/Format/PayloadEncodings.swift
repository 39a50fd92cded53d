import ObjectIndex
import SegmentLog

/// The payloads of commit records (FORMAT.md, "Record payloads"). Each starts with a
/// payload version byte; a reader rejects versions it does not know.
enum Payload {
    static let version: UInt8 = 1

    static func encode(_ o: ObjectInfo) -> [UInt8] {
        var w = ByteWriter(capacity: 128 + o.extents.count * 24)
        w.write(version)
        w.writeString(o.bucket)
        w.writeString(o.key)
        w.writeString(o.versionID)
        w.write(o.size)
        w.write(o.lastModified)
        w.writeString(o.etag)
        writePairs(&w, o.metadata)
        writePairs(&w, o.checksums)
        w.writeBlob(o.acl)
        w.write(UInt32(o.partSizes.count))
        for s in o.partSizes { w.write(s) }
        w.write(UInt32(o.extents.count))
        for e in o.extents {
            w.write(e.segment)
            w.write(e.offset)
            w.write(e.length)
        }
        var area = ExtensionArea()
        if let upload = o.completesUpload { area.add(Extension.completesUpload, Array(upload.utf8)) }
        if o.partChecksums.contains(where: { !$0.isEmpty }) {
            var field = ByteWriter()
            field.write(UInt32(o.partChecksums.count))
            for pairs in o.partChecksums { writePairs(&field, pairs) }
            area.add(Extension.partChecksums, field.bytes)
        }
        if o.isDeleteMarker { area.add(Extension.deleteMarker, [1]) }
        if let order = o.versionSequence {
            var field = ByteWriter()
            field.write(order)
            area.add(Extension.versionSequence, field.bytes)
        }
        if !o.tags.isEmpty {
            var field = ByteWriter()
            writePairs(&field, o.tags)
            area.add(Extension.tags, field.bytes)
        }
        if let encryption = o.encryption { area.add(Extension.encryption, encode(encryption)) }
        if let lock = o.lock, !lock.isEmpty { area.add(Extension.lock, encode(lock)) }
        for (tag, value) in o.unknownExtensions.sorted(by: { $0.key < $1.key }) { area.add(tag, value) }
        area.write(to: &w)
        return w.bytes
    }

    /// The encryption field: `u8 kind · u8 flags (bit 0: bucket key) · string kmsKeyID ·
    /// string context · blob wrappedKey · blob checkSalt · blob checkMAC · u32 n · blob salt × n`.
    static func encode(_ e: ObjectEncryption) -> [UInt8] {
        var w = ByteWriter()
        w.write(e.kind.rawValue)
        w.write(UInt8(e.bucketKeyEnabled ? 1 : 0))
        w.writeString(e.kmsKeyID ?? "")
        w.writeString(e.context ?? "")
        w.writeBlob(e.wrappedKey)
        w.writeBlob(e.customerKeyCheck?.salt ?? [])
        w.writeBlob(e.customerKeyCheck?.mac ?? [])
        w.write(UInt32(e.salts.count))
        for salt in e.salts { w.writeBlob(salt) }
        return w.bytes
    }

    /// The Object Lock field: `u8 mode (0 none, 1 GOVERNANCE, 2 COMPLIANCE) · i64 retainUntil
    /// (ms since 1970; 0 without a mode) · u8 legalHold (0 or 1)`.
    static func encode(_ lock: ObjectLock) -> [UInt8] {
        var w = ByteWriter()
        w.write(UInt8(lock.mode == .governance ? 1 : lock.mode == .compliance ? 2 : 0))
        w.write(lock.mode == nil ? Int64(0) : lock.retainUntil ?? 0)
        w.write(UInt8(lock.legalHold ? 1 : 0))
        return w.bytes
    }

    static func decodeLock(_ bytes: [UInt8]) throws -> ObjectLock {
        var r = ByteReader(bytes)
        let mode = try r.read(UInt8.self), until = try r.read(Int64.self), hold = try r.read(UInt8.self)
        let decoded: ObjectLock.Mode? = mode == 1 ? .governance : mode == 2 ? .compliance : nil
        return ObjectLock(mode: decoded, retainUntil: decoded == nil ? nil : until, legalHold: hold == 1)
    }

    static func decodeEncryption(_ bytes: [UInt8]) throws -> ObjectEncryption {
        var r = ByteReader(bytes)
        guard let kind = ObjectEncryption.Kind(rawValue: try r.read(UInt8.self)) else { throw ByteReader.Truncated() }
        let flags = try r.read(UInt8.self)
        let keyID = try r.readString(), context = try r.readString()
        let wrapped = try r.readBlob(), checkSalt = try r.readBlob(), checkMAC = try r.readBlob()
        var salts: [[UInt8]] = []
        for _ in 0..<(try r.read(UInt32.self)) { salts.append(try r.readBlob()) }
        return ObjectEncryption(kind: kind, kmsKeyID: keyID.isEmpty ? nil : keyID, context: context.isEmpty ? nil : context,
                                bucketKeyEnabled: flags & 1 != 0, wrappedKey: wrapped,
                                customerKeyCheck: checkMAC.isEmpty ? nil : CustomerKeyCheck(salt: checkSalt, mac: checkMAC),
                                salts: salts)
    }

    /// Extension tags of the object entry.
    enum Extension {
        /// The upload id a CompleteMultipartUpload commit closes.
        static let completesUpload: UInt16 = 1
        /// `u32 n · pairs × n`: the checksums of each part of a multipart object.
        static let partChecksums: UInt16 = 2
        /// `u8 1`: the entry is a delete marker.
        static let deleteMarker: UInt16 = 3
        /// `u64`: the sequence that orders a re-committed version (its first commit's).
        static let versionSequence: UInt16 = 4
        /// `pairs`: the object's tags.
        static let tags: UInt16 = 5
        /// How the object is encrypted (``Payload/encode(_:)-ObjectEncryption``).
        static let encryption: UInt16 = 6
        /// The version's Object Lock state (``Payload/encode(_:)-ObjectLock``).
        static let lock: UInt16 = 7
        /// Every tag above.
        static let known: Set<UInt16> = [completesUpload, partChecksums, deleteMarker, versionSequence, tags, encryption, lock]
    }

    /// Extension tags of the delete entry.
    enum DeleteExtension {
        /// `u64`: the sequence of the version a versioned delete removes.
        static let targetSequence: UInt16 = 1
    }

    /// `summary`: only what a listing shows and lifecycle rules test: no extents, part
    /// sizes or part checksums, and of the metadata only the storage class (building the
    /// metadata dictionary of every entry was a tenth of a ListObjectsV2 page).
    static func decodeObject(_ bytes: [UInt8], offset: Int = 0, summary: Bool = false) throws -> ObjectInfo {
        var r = ByteReader(bytes, offset: offset)
        try expectVersion(&r)
        let bucket = try r.readString(), key = try r.readString(), versionID = try r.readString()
        let size = try r.read(UInt64.self), lastModified = try r.read(Int64.self)
        let etag = try r.readString()
        let metadata = summary ? try readPairs(&r, keeping: storageClassName) : try readPairs(&r)
        let checksums = try readPairs(&r)
        let acl = try r.readBlob()
        var partSizes: [UInt64] = []
        let partCount = Int(try r.read(UInt32.self))
        if summary {
            try r.skip(partCount * 8)
        } else {
            for _ in 0..<partCount { partSizes.append(try r.read(UInt64.self)) }
        }
        let extentCount = Int(try r.read(UInt32.self))
        guard extentCount <= r.remaining / 24 else { throw ByteReader.Truncated() }
        var extents: [Extent] = []
        if summary {
            try r.skip(extentCount * 24)
        } else {
            extents.reserveCapacity(extentCount)
            for _ in 0..<extentCount {
                extents.append(Extent(segment: try r.read(UInt64.self), offset: try r.read(UInt64.self), length: try r.read(UInt64.self)))
            }
        }
        var info = ObjectInfo(bucket: bucket, key: key, versionID: versionID, size: size, lastModified: lastModified,
                              etag: etag, metadata: metadata, checksums: checksums, acl: acl,
                              partSizes: partSizes, extents: extents)
        for _ in 0..<(try r.read(UInt16.self)) {
            let tag = try r.read(UInt16.self)
            let value = try r.readBlob()
            if tag == Extension.completesUpload { info.completesUpload = String(decoding: value, as: UTF8.self) }
            if tag == Extension.partChecksums, !summary {
                var field = ByteReader(value)
                for _ in 0..<(try field.read(UInt32.self)) { info.partChecksums.append(try readPairs(&field)) }
            }
            if tag == Extension.deleteMarker { info.isDeleteMarker = value.first == 1 }
            if tag == Extension.versionSequence {
                var field = ByteReader(value)
                info.versionSequence = try field.read(UInt64.self)
            }
            if tag == Extension.tags {
                var field = ByteReader(value)
                info.tags = try readPairs(&field)
            }
            if tag == Extension.encryption { info.encryption = try decodeEncryption(value) }
            if tag == Extension.lock { info.lock = try decodeLock(value) }
            if !Extension.known.contains(tag), !summary { info.unknownExtensions[tag] = value }
        }
        return info
    }

    /// deleteObject: bucket, key, version id, time; for a version with an id, the
    /// sequence of the version it removes (extension field 1).
    static func encodeDelete(bucket: String, key: String, versionID: String, time: Int64,
                             targetSequence: UInt64? = nil) -> [UInt8] {
        var w = ByteWriter()
        w.write(version)
        w.writeString(bucket)
        w.writeString(key)
        w.writeString(versionID)
        w.write(time)
        var area = ExtensionArea()
        if let targetSequence {
            var field = ByteWriter()
            field.write(targetSequence)
            area.add(DeleteExtension.targetSequence, field.bytes)
        }
        area.write(to: &w)
        return w.bytes
    }

    static func encode(_ d: DeleteEntry) -> [UInt8] {
        encodeDelete(bucket: d.bucket, key: d.key, versionID: d.versionID, time: d.time, targetSequence: d.targetSequence)
    }

    /// A delete entry with its extension fields.
    struct DeleteEntry: Sendable {
        var bucket: String
        var key: String
        /// Empty: the `null` version.
        var versionID: String
        var time: Int64
        var targetSequence: UInt64?
    }

    static func decodeDeleteEntry(_ bytes: [UInt8]) throws -> DeleteEntry {
        var r = ByteReader(bytes)
        try expectVersion(&r)
        var d = DeleteEntry(bucket: try r.readString(), key: try r.readString(), versionID: try r.readString(),
                            time: try r.read(Int64.self))
        for _ in 0..<(try r.read(UInt16.self)) {
            let tag = try r.read(UInt16.self)
            let value = try r.readBlob()
            if tag == DeleteExtension.targetSequence {
                var field = ByteReader(value)
                d.targetSequence = try field.read(UInt64.self)
            }
        }
        return d
    }

    /// The version id of an object entry (index value at `offset`), without decoding the rest.
    static func versionID(ofObject bytes: [UInt8], offset: Int = 0) throws -> String {
        var r = ByteReader(bytes, offset: offset)
        try expectVersion(&r)
        _ = try r.readBlob()
        _ = try r.readBlob()
        return try r.readString()
    }

    static func decodeDelete(_ bytes: [UInt8]) throws -> (bucket: String, key: String, versionID: String, time: Int64) {
        var r = ByteReader(bytes)
        try expectVersion(&r)
        let result = (try r.readString(), try r.readString(), try r.readString(), try r.read(Int64.self))
        try skipExtensions(&r)
        return result
    }

    static func encode(_ b: BucketInfo) -> [UInt8] {
        var w = ByteWriter()
        w.write(version)
        w.writeString(b.name)
        w.write(b.created)
        writePairs(&w, b.attributes)
        ExtensionArea().write(to: &w)  // no extension fields
        return w.bytes
    }

    static func decodeBucket(_ bytes: [UInt8], offset: Int = 0) throws -> BucketInfo {
        var r = ByteReader(bytes, offset: offset)
        try expectVersion(&r)
        let b = BucketInfo(name: try r.readString(), created: try r.read(Int64.self), attributes: try readPairs(&r))
        try skipExtensions(&r)
        return b
    }

    /// deleteBucket: the name.
    static func encodeDeleteBucket(_ name: String) -> [UInt8] {
        var w = ByteWriter()
        w.write(version)
        w.writeString(name)
        ExtensionArea().write(to: &w)  // no extension fields
        return w.bytes
    }

    static func decodeDeleteBucket(_ bytes: [UInt8]) throws -> String {
        var r = ByteReader(bytes)
        try expectVersion(&r)
        let name = try r.readString()
        try skipExtensions(&r)
        return name
    }

    /// reset: `u8 1 · i64 time (ms) · extension area`.
    static func encodeReset(time: Int64) -> [UInt8] {
        var w = ByteWriter()
        w.write(version)
        w.write(time)
        ExtensionArea().write(to: &w)  // no extension fields
        return w.bytes
    }

    static func decodeReset(_ bytes: [UInt8]) throws -> Int64 {
        var r = ByteReader(bytes)
        try expectVersion(&r)
        let time = try r.read(Int64.self)
        try skipExtensions(&r)
        return time
    }

    /// snapshot: `u8 1 · u8 slot · string name · i64 time (ms) · extension area`.
    static func encodeSnapshot(slot: UInt8, name: String, time: Int64) -> [UInt8] {
        var w = ByteWriter()
        w.write(version)
        w.write(slot)
        w.writeString(name)
        w.write(time)
        ExtensionArea().write(to: &w)  // no extension fields
        return w.bytes
    }

    static func decodeSnapshot(_ bytes: some Collection<UInt8>) throws -> (slot: UInt8, name: String, time: Int64) {
        var r = ByteReader(Array(bytes))
        try expectVersion(&r)
        let slot = try r.read(UInt8.self)
        let name = try r.readString()
        let time = try r.read(Int64.self)
        try skipExtensions(&r)
        return (slot, name, time)
    }

    /// restore: `u8 1 · string name · u64 snapshot sequence · u64 snapshot segment · i64
    /// time (ms) · extension area`: the snapshot record it returns to and where it is.
    static func encodeRestore(name: String, snapshotSequence: UInt64, snapshotSegment: UInt64, time: Int64) -> [UInt8] {
        var w = ByteWriter()
        w.write(version)
        w.writeString(name)
        w.write(snapshotSequence)
        w.write(snapshotSegment)
        w.write(time)
        ExtensionArea().write(to: &w)  // no extension fields
        return w.bytes
    }

    static func decodeRestore(_ bytes: some Collection<UInt8>) throws
        -> (name: String, snapshotSequence: UInt64, snapshotSegment: UInt64, time: Int64) {
        var r = ByteReader(Array(bytes))
        try expectVersion(&r)
        let name = try r.readString()
        let sequence = try r.read(UInt64.self)
        let segment = try r.read(UInt64.self)
        let time = try r.read(Int64.self)
        try skipExtensions(&r)
        return (name, sequence, segment, time)
    }

    /// deleteSnapshot: `u8 1 · string name · extension area` (the deleteBucket encoding).
    static func encodeDeleteSnapshot(_ name: String) -> [UInt8] { encodeDeleteBucket(name) }

    static func decodeDeleteSnapshot(_ bytes: [UInt8]) throws -> String { try decodeDeleteBucket(bytes) }

    static func expectVersion(_ r: inout ByteReader) throws {
        guard try r.read(UInt8.self) == version else { throw ByteReader.Truncated() }
    }

    /// Pairs sorted by name, so equal dictionaries encode to equal bytes.
    static func writePairs(_ w: inout ByteWriter, _ pairs: [String: String]) {
        w.write(UInt32(pairs.count))
        for (k, v) in pairs.sorted(by: { $0.key < $1.key }) {
            w.writeString(k)
            w.writeString(v)
        }
    }

    static func readPairs(_ r: inout ByteReader) throws -> [String: String] {
        var out: [String: String] = [:]
        for _ in 0..<(try r.read(UInt32.self)) { out[try r.readString()] = try r.readString() }
        return out
    }

    /// The metadata entry of the storage class (the one a listing shows).
    static let storageClassName = Array("x-amz-storage-class".utf8)

    /// Pairs, keeping only the one named `name` (the others are stepped over unread).
    static func readPairs(_ r: inout ByteReader, keeping name: [UInt8]) throws -> [String: String] {
        var out: [String: String] = [:]
        for _ in 0..<(try r.read(UInt32.self)) {
            if r.nextBlob(equals: name) {
                out[try r.readString()] = try r.readString()
            } else {
                try r.skipBlob()
                try r.skipBlob()
            }
        }
        return out
    }

    /// An extension area being written: the fields are collected first and the count
    /// written from them, so the count cannot disagree with the fields.
    struct ExtensionArea {
        private var fields: [(tag: UInt16, bytes: [UInt8])] = []

        mutating func add(_ tag: UInt16, _ bytes: [UInt8]) { fields.append((tag, bytes)) }

        /// `u16 count`, then `u16 tag · u32 length · bytes` per field, in the order added.
        func write(to w: inout ByteWriter) {
            w.write(UInt16(fields.count))
            for field in fields {
                w.write(field.tag)
                w.writeBlob(field.bytes)
            }
        }
    }

    /// Extension fields: `u16 count`, then `u16 tag · u32 length · bytes` each. Unknown
    /// tags are skipped, so later versions of the code can add fields without a format break.
    static func skipExtensions(_ r: inout ByteReader) throws {
        for _ in 0..<(try r.read(UInt16.self)) {
            _ = try r.read(UInt16.self)
            _ = try r.readBlob()
        }
    }
}

extension Payload {
    /// Where the extent list of an object entry (putObject) or part entry (putPart)
    /// starts in its payload: the `u32` count, then 24 bytes per extent.
    static func extentListOffset(_ type: RecordType, _ bytes: [UInt8]) throws -> Int {
        var r = ByteReader(bytes)
        try expectVersion(&r)
        switch type {
        case .putObject:
            for _ in 0..<3 { try r.skipBlob() }  // bucket, key, version id
            try r.skip(16)  // size, last modified
            try r.skipBlob()  // etag
            for _ in 0..<2 { try skipPairs(&r) }  // metadata, checksums
            try r.skipBlob()  // acl
            try r.skip(Int(try r.read(UInt32.self)) * 8)  // part sizes
        case .putPart:
            try r.skipBlob()  // upload id
            try r.skip(4 + 16)  // part number, size, last modified
            try r.skipBlob()  // etag
            try skipPairs(&r)  // checksums
        case .data, .deleteObject, .createBucket, .deleteBucket, .createUpload, .abortUpload, .bucketConfig, .relocate, .reset,
             .snapshot, .restore, .deleteSnapshot, .seal:
            throw ByteReader.Truncated()  // no extent list
        }
        return r.offset
    }

    /// The payload with its extents replaced by `extents` (as many as it had), every
    /// other byte kept as it is: compaction moves bytes without decoding and re-encoding
    /// the entry, so extension fields this build does not know survive byte for byte.
    static func replacingExtents(_ type: RecordType, in payload: [UInt8], with extents: [Extent]) throws -> [UInt8] {
        let start = try extentListOffset(type, payload)
        var r = ByteReader(payload, offset: start)
        guard Int(try r.read(UInt32.self)) == extents.count, r.remaining >= extents.count * 24 else { throw ByteReader.Truncated() }
        var w = ByteWriter(capacity: extents.count * 24)
        for e in extents {
            w.write(e.segment)
            w.write(e.offset)
            w.write(e.length)
        }
        var out = payload
        out.replaceSubrange((start + 4)..<(start + 4 + w.bytes.count), with: w.bytes)
        return out
    }

    private static func skipPairs(_ r: inout ByteReader) throws {
        for _ in 0..<(try r.read(UInt32.self)) {
            try r.skipBlob()
            try r.skipBlob()
        }
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
        if let encryption = u.encryption { area.add(UploadExtension.encryption, encode(encryption)) }
        if let lock = u.lock, !lock.isEmpty { area.add(UploadExtension.lock, encode(lock)) }
        area.write(to: &w)
        return w.bytes
    }

    /// Extension tags of the createUpload payload.
    enum UploadExtension {
        /// `pairs`: the tags the completed object gets.
        static let tags: UInt16 = 1
        /// The encryption of the parts and the object, as the object entry's field 6
        /// (without salts).
        static let encryption: UInt16 = 2
        /// The Object Lock the completed object gets, as the object entry's field 7.
        static let lock: UInt16 = 3
    }

    /// Extension tags of the putPart payload.
    enum PartExtension {
        /// `bytes`: the salt of the part's sealed stream (an encrypted upload's part).
        static let salt: UInt16 = 1
    }

    static func decodeUpload(_ bytes: [UInt8], offset: Int = 0) throws -> UploadInfo {
        var r = ByteReader(bytes, offset: offset)
        try expectVersion(&r)
        let bucket = try r.readString(), key = try r.readString(), id = try r.readString()
        let initiated = try r.read(Int64.self)
        let metadata = try readPairs(&r), attributes = try readPairs(&r)
        var tags: [String: String] = [:]
        var encryption: ObjectEncryption?
        var lock: ObjectLock?
        for _ in 0..<(try r.read(UInt16.self)) {
            let tag = try r.read(UInt16.self)
            let value = try r.readBlob()
            if tag == UploadExtension.tags {
                var field = ByteReader(value)
                tags = try readPairs(&field)
            }
            if tag == UploadExtension.encryption { encryption = try decodeEncryption(value) }
            if tag == UploadExtension.lock { lock = try decodeLock(value) }
        }
        var upload = UploadInfo(bucket: bucket, key: key, uploadId: id, initiated: initiated, metadata: metadata,
                                checksumAlgorithm: attributes["checksum-algorithm"], checksumType: attributes["checksum-type"],
                                tags: tags)
        upload.acl = attributes["acl"].map { Array($0.utf8) } ?? []
        upload.initiator = attributes["initiator"]
        upload.encryption = encryption
        upload.lock = lock
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
        var area = ExtensionArea()
        if let salt = p.salt { area.add(PartExtension.salt, salt) }
        area.write(to: &w)
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
        var part = PartInfo(partNumber: number, size: size, lastModified: lastModified, etag: etag,
                            checksums: checksums, extents: extents)
        for _ in 0..<(try r.read(UInt16.self)) {
            let tag = try r.read(UInt16.self)
            let value = try r.readBlob()
            if tag == PartExtension.salt { part.salt = value }
        }
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

extension Payload {
    /// bucketConfig: `u8 1 · string bucket · string name · blob document · extension area`;
    /// an empty document removes the configuration.
    static func encodeConfig(bucket: String, name: String, document: [UInt8]) -> [UInt8] {
        var w = ByteWriter()
        w.write(version)
        w.writeString(bucket)
        w.writeString(name)
        w.writeBlob(document)
        ExtensionArea().write(to: &w)  // no extension fields
        return w.bytes
    }

    static func decodeConfig(_ bytes: [UInt8], offset: Int = 0) throws -> (bucket: String, name: String, document: [UInt8]) {
        var r = ByteReader(bytes, offset: offset)
        try expectVersion(&r)
        let result = (try r.readString(), try r.readString(), try r.readBlob())
        try skipExtensions(&r)
        return result
    }
}
