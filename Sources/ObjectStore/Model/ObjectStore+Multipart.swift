import Crypto
import NIOCore
import ObjectIndex
import SegmentLog
import Synchronization

/// A page of ListMultipartUploads.
public struct UploadPage: Sendable {
    public var uploads: [UploadInfo] = []
    public var commonPrefixes: [String] = []
    public var isTruncated = false
    public var nextKeyMarker: String?
    public var nextUploadIdMarker: String?
}

/// A part chosen by CompleteMultipartUpload.
public struct CompletedPart: Sendable {
    public var partNumber: Int
    /// As the client sent it (quotes allowed).
    public var etag: String

    public init(partNumber: Int, etag: String) {
        self.partNumber = partNumber
        self.etag = etag
    }
}

/// Streams one part of a multipart upload into the log, like ``ObjectWriter``: its bytes
/// are data records as they arrive, and the part exists only once `finish` wrote its
/// putPart commit record.
public final class PartWriter: @unchecked Sendable {
    public let uploadId: String
    public let partNumber: Int
    private let data: ObjectWriter
    private let store: ObjectStore

    init(store: ObjectStore, bucket: String, key: String, uploadId: String, partNumber: Int, sealing: Sealing?) {
        self.store = store
        self.uploadId = uploadId
        self.partNumber = partNumber
        self.data = ObjectWriter(store: store, bucket: bucket, key: key, metadata: [:], conditions: .init(), sealing: sealing)
    }

    /// Bytes received so far.
    public var bytesWritten: UInt64 { data.bytesWritten }

    /// Adds bytes to the part.
    public func write(_ bytes: ByteBuffer) async throws {
        try await data.write(bytes)
    }

    /// Commits the part, replacing an earlier part with the same number. BadDigest on an
    /// MD5 mismatch; NoSuchUpload if the upload was completed or aborted meanwhile.
    public func finish(contentMD5: [UInt8]? = nil, checksums: [String: String] = [:]) async throws -> PartInfo {
        defer { data.release() }
        let digest = try await data.finishData(contentMD5: contentMD5)
        var part = PartInfo(partNumber: partNumber, size: data.bytesWritten, lastModified: ObjectStore.now(),
                            etag: data.etag(digest), checksums: checksums, extents: data.writtenExtents)
        part.uploadId = uploadId
        part.salt = data.salt
        let bucket = data.bucket, key = data.key, uploadId = self.uploadId
        let record = try await store.commit(.putPart(PutPartCommit(part))) { view in
            guard try view.uploadIsOpen(bucket: bucket, key: key, uploadId: uploadId) else {
                throw StoreError.noSuchUpload(uploadId)
            }
        }
        part.sequence = record.sequence
        return part
    }

    /// Gives up on the part: nothing becomes visible.
    public func abort() {
        data.abort()
    }
}

extension ObjectStore {
    /// Smallest size of every part but the last.
    public var minPartSize: UInt64 { options.minPartSize }

    /// CreateMultipartUpload.
    public func createUpload(bucket: String, key: String, metadata: [String: String],
                             checksumAlgorithm: String?, checksumType: String?, acl: [UInt8] = [],
                             initiator: String? = nil, tags: [String: String] = [:],
                             encryption: ObjectEncryption? = nil, lock: ObjectLock? = nil) async throws -> UploadInfo {
        try Validation.checkKey(key)
        let now = Self.now()
        let id = UploadIds.next(now: now)
        var upload = UploadInfo(bucket: bucket, key: key, uploadId: id, initiated: now, metadata: metadata,
                                checksumAlgorithm: checksumAlgorithm, checksumType: checksumType, tags: tags)
        upload.acl = acl
        upload.initiator = initiator
        upload.encryption = encryption
        upload.lock = lock
        try await commit(.createUpload(CreateUploadCommit(upload))) { view in
            guard try view.bucketExists(bucket) else { throw StoreError.noSuchBucket(bucket) }
        }
        return upload
    }

    /// The upload, or NoSuchUpload (also when the id belongs to another bucket or key).
    public func upload(bucket: String, key: String, uploadId: String) async throws -> UploadInfo {
        let index = self.index
        return try await io {
            try index.environment.read { txn in try Self.upload(index, txn, bucket: bucket, key: key, uploadId: uploadId) }
        }
    }

    static func upload(_ index: ObjectIndex, _ txn: Transaction, bucket: String, key: String, uploadId: String) throws -> UploadInfo {
        guard uploadId.utf8.count == 20, let value = try txn.get(index.uploads, IndexKey.upload(bucket: bucket, key: key, uploadId: uploadId)) else {
            guard try txn.get(index.buckets, Array(bucket.utf8)) != nil else { throw StoreError.noSuchBucket(bucket) }
            throw StoreError.noSuchUpload(uploadId)
        }
        let upload = try IndexValue.upload(value)
        guard upload.bucket == bucket, upload.key == key else { throw StoreError.noSuchUpload(uploadId) }
        return upload
    }

    /// UploadPart: starts a streamed part. partNumber must be 1...10,000. A part of an
    /// encrypted upload is sealed with `sealing`, which the caller made from the upload's
    /// encryption (``UploadInfo/encryption``).
    public func makePartWriter(bucket: String, key: String, uploadId: String, partNumber: Int,
                               sealing: Sealing? = nil) async throws -> PartWriter {
        guard (1...10_000).contains(partNumber) else {
            throw StoreError(.invalidArgument, "Part number must be an integer between 1 and 10000, inclusive")
        }
        let upload = try await upload(bucket: bucket, key: key, uploadId: uploadId)
        guard (upload.encryption == nil) == (sealing == nil) else {
            throw StoreError(.internalError, "a part must be sealed exactly when its upload is encrypted")
        }
        return PartWriter(store: self, bucket: bucket, key: key, uploadId: uploadId, partNumber: partNumber, sealing: sealing)
    }

    /// ListParts: parts numbered above `after`, ascending, at most `maxParts`.
    public func listParts(bucket: String, key: String, uploadId: String, after: Int, maxParts: Int) async throws
        -> (parts: [PartInfo], isTruncated: Bool, next: Int?) {
        let index = self.index
        return try await io {
            try index.environment.read { txn in
                _ = try Self.upload(index, txn, bucket: bucket, key: key, uploadId: uploadId)
                // max-parts=0 answers nothing and is not truncated (as ListObjects' max-keys=0).
                guard maxParts > 0 else { return ([], false, nil) }
                var all = try Self.parts(index, txn, uploadId: uploadId, after: after, limit: maxParts + 1)
                let truncated = all.count > maxParts
                if truncated { all.removeLast() }
                return (all, truncated, truncated ? all.last?.partNumber : nil)
            }
        }
    }

    static func parts(_ index: ObjectIndex, _ txn: Transaction, uploadId: String, after: Int = 0,
                      limit: Int = Int.max) throws -> [PartInfo] {
        let prefix = Array(uploadId.utf8)
        guard after < 10_000 else { return [] }
        return try txn.withCursor(index.parts) { cursor in
            var out: [PartInfo] = []
            var entry = try cursor.seek(atOrAfter: IndexKey.part(uploadID: uploadId, partNumber: UInt32(max(0, after) + 1)))
            while let e = entry, e.key.starts(with: prefix), out.count < limit {
                out.append(try IndexValue.part(e.value))
                entry = try cursor.next()
            }
            return out
        }
    }

    /// CompleteMultipartUpload: one putObject commit whose extents are the chosen parts'
    /// extents, so no object bytes are read or written again (docs/DESIGN.md, "Multipart
    /// parts are extents").
    ///
    /// `checksums` is called with the chosen parts before the commit is written; what it
    /// throws is thrown unchanged.
    ///
    /// The parts are read from the index, checked (ascending, a repeated number's last
    /// entry counting, present with matching
    /// ETags, all but the last at least ``minPartSize``), and the commit's validation
    /// checks again, atomically with the commit, that the upload is still open and each
    /// chosen part is still the version that was read — a part re-uploaded meanwhile
    /// would otherwise leave the object pointing at bytes the index counts as dead.
    ///
    /// A retry after success returns the completed object (the closed upload's
    /// tombstone holds the completing record).
    public func completeUpload(bucket: String, key: String, uploadId: String, parts: [CompletedPart],
                               conditions: WriteConditions,
                               checksums: @escaping @Sendable ([PartInfo]) throws -> [String: String]) async throws -> ObjectInfo {
        let index = self.index
        let minPartSize = self.minPartSize
        // Ascending part numbers; a number listed again replaces its earlier entry (the
        // last one wins, as S3 answers for a part that was sent again).
        var chosen: [CompletedPart] = []
        for wanted in parts {
            if let last = chosen.last, wanted.partNumber <= last.partNumber {
                guard wanted.partNumber == last.partNumber else {
                    throw StoreError(.invalidPartOrder, "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
                }
                chosen.removeLast()
            }
            chosen.append(wanted)
        }
        // The object will point at the parts' extents as read here: compaction must not
        // delete a segment they are in until this commit is in the index (ExtentPins).
        let pin = pins.pin()
        defer { pins.unpin(pin) }
        let state = try await io { () throws -> (UploadInfo, [PartInfo])? in
            try index.environment.read { txn in
                do {
                    let upload = try Self.upload(index, txn, bucket: bucket, key: key, uploadId: uploadId)
                    return (upload, try Self.parts(index, txn, uploadId: uploadId))
                } catch let error as StoreError where error.code == .noSuchUpload {
                    return nil
                }
            }
        }
        guard let (upload, stored) = state else {
            return try await completedBefore(bucket: bucket, key: key, uploadId: uploadId, parts: chosen.count)
        }
        guard !chosen.isEmpty else { throw StoreError(.invalidPart, "You must specify at least one part") }
        let byNumber = Dictionary(uniqueKeysWithValues: stored.map { ($0.partNumber, $0) })
        var selected: [PartInfo] = []
        for wanted in chosen {
            guard let part = byNumber[wanted.partNumber], part.etag == wanted.etag.trimmingQuotes() else {
                throw StoreError(.invalidPart, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag. (part \(wanted.partNumber))")
            }
            selected.append(part)
        }
        for part in selected.dropLast() where part.size < minPartSize {
            throw StoreError(.entityTooSmall, "Your proposed upload is smaller than the minimum allowed size (part \(part.partNumber) is \(part.size) bytes; the minimum is \(minPartSize))")
        }
        var md5 = Insecure.MD5()
        for part in selected { md5.update(data: Hex.decode(part.etag)) }
        let etag = Insecure.MD5Digest.hex(md5.finalize()) + "-\(selected.count)"
        var info = ObjectInfo(bucket: bucket, key: key, size: selected.reduce(0) { $0 + $1.size }, lastModified: Self.now(),
                              etag: etag, metadata: upload.metadata, checksums: try checksums(selected), acl: upload.acl,
                              partSizes: selected.map(\.size), extents: selected.flatMap(\.extents))
        info.completesUpload = uploadId
        info.tags = upload.tags
        info.partChecksums = selected.map(\.checksums)
        info.lock = upload.lock
        if var encryption = upload.encryption {
            // Each part is its own sealed stream; the object lists their salts in order.
            let salts = selected.compactMap(\.salt)
            guard salts.count == selected.count else {
                throw StoreError(.internalError, "a part of an encrypted upload has no sealed stream")
            }
            encryption.salts = salts
            info.encryption = encryption
        }
        let versions = selected.map { ($0.partNumber, $0.sequence) }
        let (_, built) = try await commit { [info] view in
            guard try view.bucketExists(bucket) else { throw StoreError.noSuchBucket(bucket) }
            guard try view.uploadIsOpen(bucket: bucket, key: key, uploadId: uploadId) else {
                throw StoreError.noSuchUpload(uploadId)
            }
            for (number, sequence) in versions where try view.partSequence(uploadId: uploadId, partNumber: number) != sequence {
                throw StoreError(.invalidPart, "Part \(number) was uploaded again while the upload was being completed")
            }
            try conditions.check(try view.object(bucket: bucket, key: key), key: key)
            return try Self.buildPut(info, view: view)
        }
        return built.object!
    }

    /// The object a completed upload made, for a retried CompleteMultipartUpload; else
    /// NoSuchUpload.
    private func completedBefore(bucket: String, key: String, uploadId: String, parts: Int) async throws -> ObjectInfo {
        let index = self.index
        return try await io {
            try index.environment.read { txn in
                guard let tomb = try txn.get(index.tombstones, IndexKey.closedUpload(uploadId)),
                      let info = try? IndexValue.object(tomb), info.completesUpload == uploadId,
                      info.bucket == bucket, info.key == key, info.partSizes.count == parts else {
                    guard try txn.get(index.buckets, Array(bucket.utf8)) != nil else { throw StoreError.noSuchBucket(bucket) }
                    throw StoreError.noSuchUpload(uploadId)
                }
                return info
            }
        }
    }

    /// AbortMultipartUpload: the upload and its parts go; their bytes become dead space.
    public func abortUpload(bucket: String, key: String, uploadId: String) async throws {
        _ = try await upload(bucket: bucket, key: key, uploadId: uploadId)
        try await commit(.abortUpload(AbortUploadCommit(bucket: bucket, key: key, uploadId: uploadId))) { view in
            guard try view.uploadIsOpen(bucket: bucket, key: key, uploadId: uploadId) else {
                throw StoreError.noSuchUpload(uploadId)
            }
        }
    }

    /// ListMultipartUploads: by key, then by initiation (the id order), as a cursor walk.
    public func listUploads(bucket: String, prefix: String, delimiter: String?, keyMarker: String?,
                            uploadIdMarker: String?, maxUploads: Int) async throws -> UploadPage {
        let index = self.index
        return try await io {
            try index.environment.read { txn in
                guard try txn.get(index.buckets, Array(bucket.utf8)) != nil else { throw StoreError.noSuchBucket(bucket) }
                var page = UploadPage()
                guard maxUploads > 0 else { return page }
                let base = IndexKey.bucketPrefix(bucket)
                let delimiter = delimiter.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
                let prefixBytes = Array(prefix.utf8)
                var lastCommonPrefix: [UInt8]?
                try txn.withCursor(index.uploads) { cursor in
                    var entry = try cursor.seek(atOrAfter: base + prefixBytes)
                    while let e = entry, e.key.starts(with: base) {
                        let upload = try IndexValue.upload(e.value)
                        entry = try cursor.next()
                        let keyBytes = Array(upload.key.utf8)
                        guard keyBytes.starts(with: prefixBytes) else {
                            if keyBytes.lexicographicallyPrecedes(prefixBytes) { continue }
                            break
                        }
                        if let marker = keyMarker.map({ Array($0.utf8) }) {
                            if keyBytes.lexicographicallyPrecedes(marker) { continue }
                            if keyBytes == marker {
                                guard let idMarker = uploadIdMarker, idMarker < upload.uploadId else { continue }
                            }
                        }
                        if let delimiter, let cut = Self.firstRange(of: delimiter, in: keyBytes, from: prefixBytes.count) {
                            let common = Array(keyBytes[..<cut])
                            if common == lastCommonPrefix { continue }
                            if let marker = keyMarker.map({ Array($0.utf8) }), !marker.lexicographicallyPrecedes(common) || marker.starts(with: common) {
                                continue
                            }
                            if page.uploads.count + page.commonPrefixes.count == maxUploads {
                                page.isTruncated = true
                                break
                            }
                            lastCommonPrefix = common
                            page.commonPrefixes.append(String(decoding: common, as: UTF8.self))
                            page.nextKeyMarker = page.commonPrefixes.last
                            page.nextUploadIdMarker = nil
                            continue
                        }
                        if page.uploads.count + page.commonPrefixes.count == maxUploads {
                            page.isTruncated = true
                            break
                        }
                        page.uploads.append(upload)
                        page.nextKeyMarker = upload.key
                        page.nextUploadIdMarker = upload.uploadId
                    }
                }
                if !page.isTruncated {
                    page.nextKeyMarker = nil
                    page.nextUploadIdMarker = nil
                }
                return page
            }
        }
    }
}

/// Upload ids: 12 hex digits of a strictly increasing millisecond clock (so two uploads
/// created in the same millisecond still sort by creation), then 8 random hex digits.
enum UploadIds {
    private static let last = Mutex<UInt64>(0)

    static func next(now: Int64) -> String {
        let stamp = last.withLock { last -> UInt64 in
            last = max(last + 1, UInt64(max(0, now)))
            return last
        }
        var random = SystemRandomNumberGenerator()
        let time = String(stamp, radix: 16)
        return String(repeating: "0", count: max(0, 12 - time.count)) + time
            + (0..<4).map { _ in String(format2: UInt8.random(in: 0...255, using: &random)) }.joined()
    }
}

extension Insecure.MD5Digest {
    static func hex(_ digest: Insecure.MD5Digest) -> String {
        digest.map { String(format2: $0) }.joined()
    }
}

enum Hex {
    static func decode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var high: UInt8?
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case 0x30...0x39: v = c - 0x30
            case 0x61...0x66: v = c - 0x61 + 10
            case 0x41...0x46: v = c - 0x41 + 10
            default: continue
            }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        return out
    }
}
