import Foundation
import NIOCore
import NIOHTTP1
import ObjectStore

/// Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
/// CompleteMultipartUpload, AbortMultipartUpload, ListParts and ListMultipartUploads.
///
/// The engine keeps the upload's lifecycle (ObjectStore+Multipart.swift); this layer
/// verifies part bodies as PutObject does and owns the checksums (docs/S3-NOTES.md,
/// "Multipart checksums"): each part
/// carries the upload's checksum algorithm (computed when the client did not send it),
/// and completion turns the part checksums into the object's COMPOSITE (`…-N`) or
/// FULL_OBJECT checksum.
extension S3RequestHandler {
    // MARK: - CreateMultipartUpload

    func createMultipartUpload(_ object: ObjectAddress, _ context: Context) async throws -> S3Response {
        let request = context.request
        let metadata = try ObjectHeaders.metadata(from: request.headers)
        let checksum = try Self.uploadChecksum(request.headers)
        // Tags are checked now and given to the object at completion, as S3 does.
        let tags = try ObjectHeaders.tags(from: request.headers)
        // The upload's encryption: each part is sealed with it (SSE-C: the key each part
        // request presents, checked against the upload's).
        let encryption = try await sealing(bucket: object.bucket, { request.header($0) }, checksMD5: false, remoteAddress: context.remoteAddress)?.encryption
        let upload = try await store.createUpload(bucket: object.bucket, key: object.key, metadata: metadata,
                                                  checksumAlgorithm: checksum?.algorithm.wireName,
                                                  checksumType: checksum?.type, acl: try newObjectACL(bucket: object.bucket, context),
                                                  initiator: context.principal.canonicalId, tags: tags, encryption: encryption,
                                                  lock: try await lockForWrite(bucket: object.bucket, { request.header($0) },
                                                                               integrityChecked: true))
        var xml = XMLWriter()
        xml.open("InitiateMultipartUploadResult", namespace: Self.namespace)
        xml.element("Bucket", upload.bucket)
        xml.element("Key", upload.key)
        xml.element("UploadId", upload.uploadId)
        xml.close()
        var response = S3Response.xml(xml)
        ObjectHeaders.addEncryption(upload.encryption, customerKeyMD5: request.header(CustomerKey.prefix + "key-md5"),
                                    context: true, to: &response.headers)
        await addAbortDate(upload, to: &response.headers)
        if let algorithm = upload.checksumAlgorithm { response.headers.add(name: "x-amz-checksum-algorithm", value: algorithm) }
        if let type = upload.checksumType { response.headers.add(name: "x-amz-checksum-type", value: type) }
        return response
    }

    /// The checksum an upload is created with: `x-amz-checksum-algorithm`, and
    /// `x-amz-checksum-type` defaulting to COMPOSITE (FULL_OBJECT for CRC64NVME). Only the
    /// CRCs can be combined into a FULL_OBJECT checksum, and CRC64NVME only that way.
    static func uploadChecksum(_ headers: HTTPHeaders) throws -> (algorithm: ChecksumAlgorithm, type: String)? {
        let requestedType = headers.first(name: "x-amz-checksum-type")?.uppercased()
        guard let name = headers.first(name: "x-amz-checksum-algorithm") else {
            if requestedType != nil {
                throw S3Error.invalidRequest(
                    "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
            }
            return nil
        }
        guard let algorithm = ChecksumAlgorithm(wireName: name) else {
            throw S3Error.invalidRequest("Checksum algorithm \(name) is not supported")
        }
        let type = requestedType ?? (algorithm.defaultsToFullObject ? "FULL_OBJECT" : "COMPOSITE")
        switch type {
        case "COMPOSITE":
            guard algorithm != .crc64nvme else {
                throw S3Error.invalidRequest("The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.")
            }
        case "FULL_OBJECT":
            guard [.crc32, .crc32c, .crc64nvme].contains(algorithm) else {
                throw S3Error.invalidRequest(
                    "The FULL_OBJECT checksum type cannot be used with the \(algorithm.rawValue) checksum algorithm.")
            }
        default:
            throw S3Error.invalidRequest("Value for x-amz-checksum-type header is invalid.")
        }
        return (algorithm, type)
    }

    // MARK: - UploadPart

    func uploadPart(_ address: UploadAddress, partNumber: Int, _ context: Context) async throws -> S3Response {
        let request = context.request
        try checkUploadLength(context)
        let contentMD5 = try request.header("content-md5").map { value in
            guard let digest = MD5Hasher.decodeContentMD5(value) else { throw S3Error.invalidDigest(contentMD5: value) }
            return digest
        }
        let upload = try await store.upload(bucket: address.bucket, key: address.key, uploadId: address.uploadId)
        let algorithm = try Self.partChecksumAlgorithm(request.headers, upload: upload)
        // The parts of an object that will be locked carry an integrity check, as a PUT does.
        if upload.lock != nil, !Self.hasIntegrityCheck(request.headers) {
            throw S3Error.invalidRequest("Content-MD5 OR x-amz-checksum- HTTP header is required for Put Part requests with Object Lock parameters")
        }
        let (sealing, customerKeyMD5) = try partSealing(upload, request.headers, remoteAddress: context.remoteAddress)
        let writer = try await store.makePartWriter(bucket: address.bucket, key: address.key, uploadId: address.uploadId,
                                                    partNumber: partNumber, sealing: sealing)
        // As in putObject: nothing is visible until `writer.finish`, after every check of the body.
        do {
            var payload = try PayloadReader(request: request, signing: context.signing, auth: context.auth,
                                            body: context.body, alsoCompute: algorithm)
            while let piece = try await payload.next() {
                if writer.bytesWritten + UInt64(piece.readableBytes) > UInt64(Self.maxSinglePut) {
                    throw S3Error.entityTooLarge(proposedSize: nil, maxSizeAllowed: Self.maxSinglePut)
                }
                try await writer.write(piece)
            }
            let verified = try payload.finish()
            let part = try await writer.finish(contentMD5: contentMD5, checksums: verified.checksums)
            var response = S3Response()
            response.headers.add(name: "ETag", value: "\"\(part.etag)\"")
            for (name, value) in part.checksums.sorted(by: { $0.key < $1.key }) {
                response.headers.add(name: "x-amz-checksum-\(name.lowercased())", value: value)
            }
            ObjectHeaders.addEncryption(upload.encryption, customerKeyMD5: customerKeyMD5, to: &response.headers)
            return response
        } catch {
            writer.abort()
            throw error
        }
    }

    /// The checksum every part of `upload` must carry (nil when the upload has none).
    /// A part request that sends or asks for another algorithm is InvalidRequest, as in S3.
    static func partChecksumAlgorithm(_ headers: HTTPHeaders, upload: UploadInfo) throws -> ChecksumAlgorithm? {
        guard let name = upload.checksumAlgorithm, let algorithm = ChecksumAlgorithm(wireName: name) else { return nil }
        var named: [ChecksumAlgorithm] = headers.compactMap { ChecksumAlgorithm(headerName: $0.name) }
        if let trailer = headers.first(name: "x-amz-trailer"),
           let declared = ChecksumAlgorithm(headerName: trailer.trimmingCharacters(in: .whitespaces)) {
            named.append(declared)
        }
        if let sdk = headers.first(name: "x-amz-sdk-checksum-algorithm"), let requested = ChecksumAlgorithm(wireName: sdk) {
            named.append(requested)
        }
        if let other = named.first(where: { $0 != algorithm }) {
            throw S3Error.invalidRequest(
                "Checksum Type mismatch occurred, expected checksum Type: \(algorithm.rawValue), actual checksum Type: \(other.rawValue)")
        }
        return algorithm
    }

    // MARK: - UploadPartCopy

    func uploadPartCopy(_ address: UploadAddress, partNumber: Int, from source: CopySource,
                        _ context: Context) async throws -> S3Response {
        let request = context.request
        let upload = try await store.upload(bucket: address.bucket, key: address.key, uploadId: address.uploadId)
        let algorithm = upload.checksumAlgorithm.flatMap { ChecksumAlgorithm(wireName: $0) }
        let reader = try await readCopySource(context, source)
        let sourceInfo = reader.info
        _ = try Conditional.evaluate(request.headers, etag: sourceInfo.etag, lastModified: sourceInfo.lastModified,
                                     prefix: "x-amz-copy-source-")
        var range = 0..<sourceInfo.size
        if let header = request.header("x-amz-copy-source-range") {
            range = try Self.copySourceRange(header, size: sourceInfo.size)
        }
        guard range.count <= UInt64(Self.maxSinglePut) else {
            throw S3Error.invalidRequest(
                "The specified copy source is larger than the maximum allowable size for a copy source: \(Self.maxSinglePut)")
        }
        let (sealing, customerKeyMD5) = try partSealing(upload, request.headers, remoteAddress: context.remoteAddress)
        let writer = try await store.makePartWriter(bucket: address.bucket, key: address.key, uploadId: address.uploadId,
                                                    partNumber: partNumber, sealing: sealing)
        let part: PartInfo
        do {
            var hasher = algorithm.map { ChecksumHasher($0) }
            try await store.stream(reader.narrowed(to: range)) { chunk in
                hasher?.update(chunk)
                try await writer.write(chunk)
            }
            var checksums: [String: String] = [:]
            if let hasher { checksums[hasher.algorithm.wireName] = hasher.finalizeBase64() }
            part = try await writer.finish(checksums: checksums)
        } catch {
            writer.abort()
            throw error
        }
        var xml = XMLWriter()
        xml.open("CopyPartResult", namespace: Self.namespace)
        xml.element("LastModified", TimeFormat.iso8601(milliseconds: part.lastModified))
        xml.element("ETag", quoted: part.etag)
        for (name, value) in part.checksums.sorted(by: { $0.key < $1.key }) {
            xml.element("Checksum\(name)", value)
        }
        xml.close()
        var response = S3Response.xml(xml)
        if let version = source.versionId ?? (sourceInfo.versionID.isEmpty ? nil : sourceInfo.versionID) {
            response.headers.add(name: "x-amz-copy-source-version-id", value: Self.showVersion(version))
        }
        ObjectHeaders.addEncryption(upload.encryption, customerKeyMD5: customerKeyMD5, to: &response.headers)
        return response
    }

    /// `x-amz-copy-source-range: bytes=first-last` (inclusive, both required) within a
    /// source of `size` bytes. S3 answers InvalidArgument for another form or a range
    /// that ends before it starts, and 416 InvalidRange for one past the source's end.
    static func copySourceRange(_ header: String, size: UInt64) throws -> Range<UInt64> {
        let text = header.trimmingCharacters(in: .whitespaces)
        let spec = text.lowercased().hasPrefix("bytes=") ? text.dropFirst(6) : ""
        let bounds = spec.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, bounds.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { (48...57).contains($0) } }),
              let first = UInt64(bounds[0]), let last = UInt64(bounds[1]) else {
            throw S3Error.invalidArgument(
                "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
                name: "x-amz-copy-source-range", value: header)
        }
        guard first <= last else {
            throw S3Error.invalidArgument("Range specified is not valid for source object of size: \(size)",
                                          name: "x-amz-copy-source-range", value: header)
        }
        guard last < size else { throw S3Error.invalidRange(range: header, objectSize: Int64(size)) }
        return first..<(last + 1)
    }

    // MARK: - CompleteMultipartUpload

    func completeMultipartUpload(_ address: UploadAddress, _ context: Context) async throws -> S3Response {
        let request = context.request
        let uploadId = address.uploadId
        // 10,000 parts of ~150 bytes each, with checksums: well under 4 MiB.
        let bytes = try await readDocument(context, limit: 4 * 1024 * 1024, checksumHeadersDescribeBody: false)
        let document = try CompleteMultipartUploadRequest.parse(bytes)
        let conditions = try writeConditions(request)
        let expected = try Self.completeChecksumHeader(request.headers)
        // A completed upload is gone, yet a retried Complete must still answer with the
        // object (the store's job); so NoSuchUpload here is not the answer by itself.
        let upload: UploadInfo?
        do {
            upload = try await store.upload(bucket: address.bucket, key: address.key, uploadId: uploadId)
        } catch let error as StoreError where error.code == .noSuchUpload {
            upload = nil
        }
        if let upload, let type = request.header("x-amz-checksum-type")?.uppercased(), type != upload.checksumType {
            throw S3Error.invalidRequest(
                "The upload was created using the \(upload.checksumType ?? "no") checksum mode. The complete request must use the same checksum mode.")
        }
        var stated: [Int: [String: String]] = [:]
        for part in document.parts where stated[part.partNumber] == nil { stated[part.partNumber] = part.checksums }
        let requestedChecksums = stated

        // The store calls the checksum closure (before its commit) only for an open
        // upload; its S3 errors reach the client unchanged.
        let info = try await store.completeUpload(
            bucket: address.bucket, key: address.key, uploadId: uploadId,
            parts: document.parts.map { CompletedPart(partNumber: $0.partNumber, etag: $0.etag) },
            conditions: conditions
        ) { parts in
            guard let upload else { throw S3Error.noSuchUpload(uploadId: uploadId) }
            return try Self.objectChecksums(upload: upload, parts: parts, stated: requestedChecksums, expected: expected)
        }

        var xml = XMLWriter()
        xml.open("CompleteMultipartUploadResult", namespace: Self.namespace)
        xml.element("Location", "http://\(request.header("host") ?? "localhost")\(request.rawPath)")
        xml.element("Bucket", info.bucket)
        xml.element("Key", info.key)
        xml.element("ETag", quoted: info.etag)
        for (name, value) in info.checksums.sorted(by: { $0.key < $1.key }) {
            xml.element("Checksum\(name)", value)
        }
        if let type = ObjectHeaders.checksumType(info.checksums) { xml.element("ChecksumType", type) }
        xml.close()
        var response = S3Response.xml(xml)
        // Only a version with an id is named: S3 names none for the null version a
        // Suspended bucket gets, as for a write into an unversioned one.
        if !info.versionID.isEmpty {
            response.headers.add(name: "x-amz-version-id", value: info.versionID)
        }
        // S3 names SSE-S3 and SSE-KMS here, and nothing of SSE-C.
        if info.encryption?.kind != .customer {
            ObjectHeaders.addEncryption(info.encryption, customerKeyMD5: nil, to: &response.headers)
        }
        return response
    }

    /// An `x-amz-checksum-*` header on CompleteMultipartUpload: the checksum the client
    /// computed for the whole object, checked against the one the parts give.
    static func completeChecksumHeader(_ headers: HTTPHeaders) throws -> (algorithm: ChecksumAlgorithm, value: String)? {
        let sent = headers.compactMap { field in
            ChecksumAlgorithm(headerName: field.name).map { (algorithm: $0, value: field.value) }
        }
        guard sent.count <= 1 else {
            throw S3Error.invalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
        }
        return sent.first
    }

    /// The checksums stored with the completed object, from the chosen `parts` (in order):
    /// the upload's algorithm over the parts' checksums (COMPOSITE, `base64-N`) or the
    /// parts' CRCs combined into the whole object's CRC (FULL_OBJECT). Part checksums the
    /// client stated in the Complete document must be the stored ones (InvalidPart).
    static func objectChecksums(upload: UploadInfo, parts: [PartInfo], stated: [Int: [String: String]],
                                expected: (algorithm: ChecksumAlgorithm, value: String)?) throws -> [String: String] {
        for part in parts {
            for (name, value) in stated[part.partNumber] ?? [:] where part.checksums[name] != value {
                throw S3Error.invalidPart(partNumber: part.partNumber, eTag: "\"\(part.etag)\"")
            }
        }
        guard let name = upload.checksumAlgorithm, let algorithm = ChecksumAlgorithm(wireName: name) else {
            if let expected {
                throw S3Error.invalidRequest(
                    "The upload was created without a checksum algorithm, so \(expected.algorithm.headerName) cannot be checked.")
            }
            return [:]
        }
        var digests: [(digest: [UInt8], size: UInt64)] = []
        for part in parts {
            guard let value = part.checksums[algorithm.wireName],
                  let digest = ChecksumHasher.decodeHeaderValue(value, for: algorithm) else {
                throw S3Error.invalidPart(partNumber: part.partNumber, eTag: "\"\(part.etag)\"")
            }
            digests.append((digest, part.size))
        }
        let value: String
        if upload.checksumType == "FULL_OBJECT" {
            guard let full = ChecksumHasher.fullObjectChecksum(algorithm: algorithm, parts: digests) else {
                throw S3Error.notImplemented("A FULL_OBJECT \(algorithm.wireName) checksum is not implemented")
            }
            value = Data(full).base64EncodedString()
        } else {
            value = ChecksumHasher.compositeChecksum(algorithm: algorithm, partDigests: digests.map(\.digest))
        }
        if let expected {
            guard expected.algorithm == algorithm else {
                throw S3Error.invalidRequest(
                    "Checksum Type mismatch occurred, expected checksum Type: \(algorithm.rawValue), actual checksum Type: \(expected.algorithm.rawValue)")
            }
            // A composite value may be stated with or without its `-N`.
            let stated = expected.value.trimmingCharacters(in: .whitespaces)
            guard stated.split(separator: "-").first == value.split(separator: "-").first else {
                throw S3Error.badDigest("The \(algorithm.wireName) you specified did not match the calculated checksum.")
            }
        }
        return [algorithm.wireName: value]
    }

    // MARK: - AbortMultipartUpload

    func abortMultipartUpload(_ address: UploadAddress, _ context: Context) async throws -> S3Response {
        let upload = try await store.upload(bucket: address.bucket, key: address.key, uploadId: address.uploadId)
        try context.access.authorize(uploadInitiator: upload.initiator ?? defaultOwner)
        try await store.abortUpload(bucket: address.bucket, key: address.key, uploadId: address.uploadId)
        return S3Response(status: .noContent)
    }

    // MARK: - ListParts

    func listParts(_ address: UploadAddress, _ parameters: ListPartsParameters, _ context: Context) async throws -> S3Response {
        let maxParts = parameters.maxParts, marker = parameters.marker
        let upload = try await store.upload(bucket: address.bucket, key: address.key, uploadId: address.uploadId)
        try context.access.authorize(uploadInitiator: upload.initiator ?? defaultOwner)
        let page = try await store.listParts(bucket: address.bucket, key: address.key, uploadId: address.uploadId,
                                             after: marker, maxParts: maxParts)
        let owner = uploadOwner(upload)
        var xml = XMLWriter()
        xml.open("ListPartsResult", namespace: Self.namespace)
        xml.element("Bucket", upload.bucket)
        xml.element("Key", upload.key)
        xml.element("UploadId", upload.uploadId)
        xml.element("PartNumberMarker", String(marker))
        xml.element("NextPartNumberMarker", String(page.next ?? page.parts.last?.partNumber ?? marker))
        xml.element("MaxParts", String(maxParts))
        xml.element("IsTruncated", page.isTruncated ? "true" : "false")
        for part in page.parts {
            xml.element("Part") { xml in
                xml.element("PartNumber", String(part.partNumber))
                xml.element("LastModified", TimeFormat.iso8601(milliseconds: part.lastModified))
                xml.element("ETag", quoted: part.etag)
                xml.element("Size", String(part.size))
                for (name, value) in part.checksums.sorted(by: { $0.key < $1.key }) {
                    xml.element("Checksum\(name)", value)
                }
            }
        }
        Self.writePerson("Initiator", owner, into: &xml)
        Self.writePerson("Owner", try objectOwner(upload, address.bucket, context), into: &xml)
        xml.element("StorageClass", upload.metadata["x-amz-storage-class"] ?? "STANDARD")
        if let algorithm = upload.checksumAlgorithm { xml.element("ChecksumAlgorithm", algorithm) }
        if let type = upload.checksumType { xml.element("ChecksumType", type) }
        xml.close()
        var response = S3Response.xml(xml)
        await addAbortDate(upload, to: &response.headers)
        return response
    }

    // MARK: - ListMultipartUploads

    func listMultipartUploads(_ bucket: String, _ parameters: ListUploadsParameters, _ context: Context) async throws -> S3Response {
        let prefix = parameters.prefix, delimiter = parameters.delimiter, keyMarker = parameters.keyMarker
        let uploadIdMarker = parameters.uploadIdMarker, maxUploads = parameters.maxUploads
        let show = parameters.show

        let page = try await store.listUploads(bucket: bucket, prefix: prefix, delimiter: delimiter,
                                               keyMarker: keyMarker, uploadIdMarker: uploadIdMarker,
                                               maxUploads: maxUploads)
        let settings = try requireBucket(bucket, context)
        var xml = XMLWriter()
        xml.open("ListMultipartUploadsResult", namespace: Self.namespace)
        xml.element("Bucket", bucket)
        xml.element("KeyMarker", show(keyMarker ?? ""))
        xml.element("UploadIdMarker", uploadIdMarker ?? "")
        if page.isTruncated {
            xml.element("NextKeyMarker", show(page.nextKeyMarker ?? ""))
            xml.element("NextUploadIdMarker", page.nextUploadIdMarker ?? "")
        }
        if let delimiter { xml.element("Delimiter", show(delimiter)) }
        xml.element("Prefix", show(prefix))
        xml.element("MaxUploads", String(maxUploads))
        xml.element("IsTruncated", page.isTruncated ? "true" : "false")
        for upload in page.uploads {
            xml.element("Upload") { xml in
                xml.element("Key", show(upload.key))
                xml.element("UploadId", upload.uploadId)
                Self.writePerson("Initiator", uploadOwner(upload), into: &xml)
                Self.writePerson("Owner", Owner(canonicalId: settings.owner(ofACL: upload.acl), users: users), into: &xml)
                xml.element("StorageClass", upload.metadata["x-amz-storage-class"] ?? "STANDARD")
                xml.element("Initiated", TimeFormat.iso8601(milliseconds: upload.initiated))
                if let algorithm = upload.checksumAlgorithm { xml.element("ChecksumAlgorithm", algorithm) }
                if let type = upload.checksumType { xml.element("ChecksumType", type) }
            }
        }
        for commonPrefix in page.commonPrefixes {
            xml.element("CommonPrefixes") { $0.element("Prefix", show(commonPrefix)) }
        }
        if parameters.urlEncode { xml.element("EncodingType", "url") }
        xml.close()
        return .xml(xml)
    }

    /// `x-amz-abort-date` and `x-amz-abort-rule-id` on CreateMultipartUpload and ListParts
    /// when a lifecycle rule's AbortIncompleteMultipartUpload will abort the upload, as
    /// S3 sends them (the earliest rule wins).
    func addAbortDate(_ upload: UploadInfo, to headers: inout HTTPHeaders) async {
        guard let lifecycle = try? await bucketSettings(upload.bucket)?.lifecycle else { return }
        let clock = LifecycleClock(dayMilliseconds: configuration.lifecycleDaySeconds * 1000)
        let dues = lifecycle.rules.compactMap { rule -> (Int64, String?)? in
            guard rule.enabled, upload.key.hasPrefix(rule.filter.prefix), let days = rule.abortIncompleteUploadDays else { return nil }
            return (clock.due(from: upload.initiated, days: days), rule.id)
        }
        guard let (due, rule) = dues.min(by: { $0.0 < $1.0 }) else { return }
        headers.add(name: "x-amz-abort-date", value: TimeFormat.httpDate(milliseconds: due))
        if let rule { headers.add(name: "x-amz-abort-rule-id", value: rule) }
    }

    /// Who started an upload (and owns the object it makes): recorded at creation; the
    /// root credentials for uploads started before users existed.
    private func uploadOwner(_ upload: UploadInfo) -> Owner {
        Owner(canonicalId: upload.initiator ?? defaultOwner, users: users)
    }

    /// The owner the upload's object will have (ListParts' `Owner`): the bucket owner
    /// under BucketOwnerEnforced, or under BucketOwnerPreferred when the upload asked
    /// for bucket-owner-full-control; else the initiator. `Initiator` stays the uploader.
    private func objectOwner(_ upload: UploadInfo, _ bucket: String, _ context: Context) throws -> Owner {
        Owner(canonicalId: try requireBucket(bucket, context).owner(ofACL: upload.acl), users: users)
    }

    /// `<Initiator>` or `<Owner>`.
    private static func writePerson(_ element: String, _ owner: Owner, into xml: inout XMLWriter) {
        xml.element(element) {
            $0.element("ID", owner.id)
            $0.element("DisplayName", owner.displayName)
        }
    }
}
