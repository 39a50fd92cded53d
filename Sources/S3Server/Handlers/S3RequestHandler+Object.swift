import Foundation
import NIOCore
import NIOHTTP1
import ObjectStore

/// Object operations: PutObject, GetObject, HeadObject, DeleteObject.
extension S3RequestHandler {
    /// S3's largest single PUT (and CopyObject source): 5 GiB.
    static let maxSinglePut: Int64 = 5 * 1024 * 1024 * 1024

    func putObject(_ object: ObjectAddress, _ context: Context) async throws -> S3Response {
        let request = context.request
        try checkUploadLength(context)
        let contentMD5 = try request.header("content-md5").map { value in
            guard let digest = MD5Hasher.decodeContentMD5(value) else { throw S3Error.invalidDigest(contentMD5: value) }
            return digest
        }
        let metadata = try ObjectHeaders.metadata(from: request.headers)
        let tags = try ObjectHeaders.tags(from: request.headers)
        let conditions = try writeConditions(request)
        let sealing = try await sealing(bucket: object.bucket, { request.header($0) }, checksMD5: contentMD5 != nil, remoteAddress: context.remoteAddress)
        let lock = try await lockForWrite(bucket: object.bucket, { request.header($0) },
                                          integrityChecked: Self.hasIntegrityCheck(request.headers))
        let writer = try await store.makeWriter(bucket: object.bucket, key: object.key, metadata: metadata,
                                                acl: try newObjectACL(bucket: object.bucket, context), tags: tags,
                                                conditions: conditions,
                                                bucketSeen: context.access.bucket != nil, sealing: sealing, lock: lock)
        // Nothing is visible until `writer.finish`; every check of the body happens
        // before it, so a rejected body leaves only dead data records behind.
        do {
            var payload = try PayloadReader(request: request, signing: context.signing, auth: context.auth, body: context.body)
            while let piece = try await payload.next() {
                if writer.bytesWritten + UInt64(piece.readableBytes) > UInt64(Self.maxSinglePut) {
                    throw S3Error.entityTooLarge(proposedSize: nil, maxSizeAllowed: Self.maxSinglePut)
                }
                try await writer.write(piece)
            }
            let verified = try payload.finish()
            let info = try await writer.finish(contentMD5: contentMD5, checksums: verified.checksums)
            var response = S3Response()
            response.headers.add(name: "ETag", value: "\"\(info.etag)\"")
            ObjectHeaders.addChecksums(info, to: &response.headers)
            ObjectHeaders.addEncryption(info.encryption, customerKeyMD5: request.header(CustomerKey.prefix + "key-md5"),
                                        context: true, to: &response.headers)
            Self.addVersionHeader(info, versioning: writer.versioning, to: &response.headers)
            await addExpiration(info, to: &response.headers)
            return response
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Length rules of a PUT body: a length must be known (Content-Length, or chunked
    /// transfer encoding without one, which S3 accepts) and at most 5 GiB.
    func checkUploadLength(_ context: Context) throws {
        let request = context.request
        let chunkedTransfer = request.headers["transfer-encoding"].contains { $0.lowercased().contains("chunked") }
        guard let contentLength = request.header("content-length") else {
            if chunkedTransfer { return }
            throw S3Error.missingContentLength
        }
        guard let length = Int64(contentLength), length >= 0 else {
            throw S3Error.invalidArgument("Content-Length is not a valid length", name: "Content-Length", value: contentLength)
        }
        var payloadLength = length
        if context.auth.payload.isStreaming, let decoded = request.header("x-amz-decoded-content-length").flatMap({ Int64($0) }) {
            payloadLength = decoded
        }
        if payloadLength > Self.maxSinglePut {
            throw S3Error.entityTooLarge(proposedSize: payloadLength, maxSizeAllowed: Self.maxSinglePut)
        }
    }

    /// `If-None-Match: *` and `If-Match` on a write, checked atomically with the commit,
    /// never read and then written (docs/S3-NOTES.md, "Conditional writes").
    func writeConditions(_ request: S3Request) throws -> WriteConditions {
        var conditions = WriteConditions()
        // If-None-Match is `*` (no current object) or a list of entity tags (RFC 9110:
        // 412 when the current object's ETag is one of them, by weak comparison).
        if let value = request.header("if-none-match") {
            let tags = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if tags == ["*"] {
                conditions.ifNoneMatchAny = true
            } else {
                guard !tags.isEmpty, !tags.contains("*") else {
                    throw S3Error.invalidArgument("If-None-Match is '*' or a list of entity tags", name: "If-None-Match", value: value)
                }
                conditions.ifNoneMatchETags = tags.map { tag in
                    String(tag.hasPrefix("W/") ? tag.dropFirst(2) : Substring(tag)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                }
            }
        }
        if let value = request.header("if-match") {
            conditions.ifMatch = value.trimmingCharacters(in: .whitespaces)
        }
        return conditions
    }

    /// GetObject and HeadObject.
    func getObject(_ object: ObjectAddress, partNumber: Int?, isHead: Bool, _ context: Context) async throws -> S3Response {
        let request = context.request
        // S3 lets only signed requests rename what a response says it is.
        if context.principal.isAnonymous, ObjectHeaders.overrides.keys.contains(where: { request.has($0) }) {
            throw S3Error.invalidRequest("Request specific response headers cannot be used for anonymous GET requests.")
        }
        if partNumber != nil, request.header("range") != nil {
            throw S3Error.invalidRequest("Cannot specify both Range header and partNumber query parameter")
        }
        try rejectEncryptionHeaderOnRead(request.headers)
        // GET opens the files together with the index entry, so headers and bytes are of
        // one version even if the key is overwritten meanwhile (docs/DESIGN.md, "Readers
        // never see a half-written object").
        let versionId = object.versionId
        let info: ObjectInfo
        var reader: ObjectReader?
        if isHead {
            info = try await Self.mappingVersionErrors(key: object.key, versionId: versionId, method: "HEAD") {
                try await store.headObject(bucket: object.bucket, key: object.key, versionID: versionId)
            }
        } else {
            let full = try await Self.mappingVersionErrors(key: object.key, versionId: versionId, method: "GET") {
                try await store.getObject(bucket: object.bucket, key: object.key, versionID: versionId,
                                          prefetchUpTo: ResponseOutput.sendfileThreshold)
            }
            info = full.info
            reader = full
        }
        try context.access.authorize(object: info)
        // An encrypted version opens only with its key (SSE-C: the one the request presents).
        let opening = try objectKey(for: info, request.headers, unwrapping: !isHead, remoteAddress: context.remoteAddress)
        if let key = opening.key { reader = reader?.opened(with: key) }
        var response = S3Response()
        ObjectHeaders.addEncryption(info.encryption, customerKeyMD5: opening.customerKeyMD5, to: &response.headers)
        ObjectLockDocuments.add(info.lock, to: &response.headers)
        // Versioned objects name their version; the null version is named when asked for,
        // and in a bucket with versioning Enabled or Suspended, as S3 does.
        if !info.versionID.isEmpty || versionId != nil || context.access.bucket?.versioning ?? .unversioned != .unversioned {
            response.headers.add(name: "x-amz-version-id", value: Self.showVersion(info.versionID))
        }
        if let notModified = try Conditional.evaluate(request.headers, etag: info.etag, lastModified: info.lastModified) {
            response.status = notModified
            response.headers.add(name: "ETag", value: "\"\(info.etag)\"")
            response.headers.add(name: "Last-Modified", value: TimeFormat.httpDate(milliseconds: info.lastModified))
            return response
        }
        var range: Range<UInt64>?
        if let header = request.header("range") {
            switch ByteRange.parse(header, size: info.size) {
            case .ignored: break
            case .unsatisfiable:
                var error = S3Error.invalidRange(range: header, objectSize: Int64(info.size))
                error.responseHeaders = [S3Error.Field("Content-Range", "bytes */\(info.size)")]
                throw error
            case .satisfiable(let r): range = r
            }
        }
        // `?partNumber=N` serves one part of a multipart object as a range; a single-part
        // object has exactly one part, itself.
        var partsCount: Int?
        if let partNumber {
            if info.partSizes.isEmpty {
                guard partNumber == 1 else { throw S3Error.invalidPartNumber }
            } else {
                guard partNumber <= info.partSizes.count else { throw S3Error.invalidPartNumber }
                let start = info.partSizes[..<(partNumber - 1)].reduce(0, +)
                range = start..<(start + info.partSizes[partNumber - 1])
                partsCount = info.partSizes.count
            }
        }
        let checksumMode = request.header("x-amz-checksum-mode")?.uppercased() == "ENABLED"
        // Checksums describe whole objects, or with partNumber that part (as S3 returns them).
        ObjectHeaders.add(info, to: &response.headers, checksums: checksumMode && range == nil)
        if checksumMode, partsCount != nil, let partNumber, partNumber <= info.partChecksums.count {
            for (name, value) in info.partChecksums[partNumber - 1].sorted(by: { $0.key < $1.key }) {
                response.headers.add(name: "x-amz-checksum-\(name.lowercased())", value: value)
            }
        }
        for (parameter, header) in ObjectHeaders.overrides {
            if let value = request.query(parameter) { response.headers.replaceOrAdd(name: header, value: value) }
        }
        if let partsCount { response.headers.add(name: "x-amz-mp-parts-count", value: String(partsCount)) }
        await addExpiration(info, to: &response.headers)
        if let range, !range.isEmpty {
            response.status = .partialContent
            response.headers.add(name: "Content-Range", value: "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(info.size)")
        }
        let length = range?.count ?? Int(info.size)
        if isHead {
            response.headers.replaceOrAdd(name: "Content-Length", value: String(length))
        } else if let reader {
            response.body = try await .reading(range.map { reader.narrowed(to: $0) } ?? reader, from: store)
        }
        return response
    }

    func deleteObject(_ object: ObjectAddress, _ context: Context) async throws -> S3Response {
        if context.request.header("if-match") != nil {
            throw S3Error.notImplemented("Conditional deletes (If-Match on DeleteObject) are not implemented by Strata yet")
        }
        // A version Object Lock protects is not removed (403 AccessDenied, the engine's rule).
        let bypass = object.versionId != nil ? await bypassesGovernance(context, bucket: object.bucket, key: object.key) : false
        let result = try await store.deleteObject(bucket: object.bucket, key: object.key, versionID: object.versionId,
                                                  bypassingGovernance: bypass)
        var response = S3Response(status: .noContent)
        if let version = result.versionID { response.headers.add(name: "x-amz-version-id", value: Self.showVersion(version)) }
        if result.isDeleteMarker { response.headers.add(name: "x-amz-delete-marker", value: "true") }
        return response
    }

    /// `x-amz-expiration: expiry-date="…", rule-id="…"` on PUT, GET and HEAD of an object
    /// that an Expiration rule of its bucket will expire, as S3 sends it.
    func addExpiration(_ info: ObjectInfo, to headers: inout HTTPHeaders) async {
        guard let configuration = try? await bucketSettings(info.bucket)?.lifecycle,
              let due = configuration.expiry(of: info, clock: LifecycleClock(dayMilliseconds: self.configuration.lifecycleDaySeconds * 1000))
        else { return }
        var value = "expiry-date=\"\(TimeFormat.httpDate(milliseconds: due.time))\""
        if let rule = due.rule { value += ", rule-id=\"\(rule)\"" }
        headers.add(name: "x-amz-expiration", value: value)
    }
}
