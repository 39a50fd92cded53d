import Foundation
import NIOCore
import NIOHTTP1
import ObjectStore

/// CopyObject: a PUT with `x-amz-copy-source`.
extension S3RequestHandler {
    func copyObject(_ object: ObjectAddress, from source: CopySource, _ context: Context) async throws -> S3Response {
        let request = context.request
        let directive = request.header("x-amz-metadata-directive")?.uppercased() ?? "COPY"
        guard directive == "COPY" || directive == "REPLACE" else {
            throw S3Error.invalidArgument("Unknown metadata directive.", name: "x-amz-metadata-directive", value: directive)
        }
        let taggingDirective = request.header("x-amz-tagging-directive")?.uppercased() ?? "COPY"
        guard taggingDirective == "COPY" || taggingDirective == "REPLACE" else {
            throw S3Error.invalidArgument("Unknown tagging directive.", name: "x-amz-tagging-directive", value: taggingDirective)
        }
        // With REPLACE the copy gets the header's tags (none without one); with COPY the
        // source's, and an x-amz-tagging header is ignored, as S3 does.
        let replacedTags = taggingDirective == "REPLACE" ? try ObjectHeaders.tags(from: request.headers) : nil
        let reader = try await readCopySource(context, source)
        let sourceInfo = reader.info
        _ = try Conditional.evaluate(request.headers, etag: sourceInfo.etag, lastModified: sourceInfo.lastModified,
                                     prefix: "x-amz-copy-source-")
        guard sourceInfo.size <= UInt64(Self.maxSinglePut) else {
            throw S3Error.invalidRequest(
                "The specified copy source is larger than the maximum allowable size for a copy source: \(Self.maxSinglePut)")
        }

        var metadata: [String: String]
        if directive == "REPLACE" {
            metadata = try ObjectHeaders.metadata(from: request.headers)
        } else {
            metadata = sourceInfo.metadata
            if let storageClass = request.header("x-amz-storage-class") {
                var only = HTTPHeaders()
                only.add(name: "x-amz-storage-class", value: storageClass)
                metadata["x-amz-storage-class"] = try ObjectHeaders.metadata(from: only)["x-amz-storage-class"]
            }
        }
        let requestedEncryption = try RequestedEncryption(request.headers)
        let changesSomething = directive == "REPLACE" || metadata != sourceInfo.metadata || requestedEncryption != .none
        // Copying a named version onto its own key is how S3 restores it (a new current
        // version): only the current object copied onto itself unchanged is refused.
        if source.bucket == object.bucket && source.key == object.key && source.versionId == nil && !changesSomething {
            throw S3Error.invalidRequest(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
        }

        // The copy's bytes are written anew (see ObjectStore.copy); a checksum the request
        // asks for that the source lacks is computed on the way.
        var checksums = sourceInfo.checksums
        var hasher: ChecksumHasher?
        if let name = request.header("x-amz-checksum-algorithm") {
            guard let algorithm = ChecksumAlgorithm(wireName: name) else {
                throw S3Error.invalidRequest("Checksum algorithm \(name) is not supported")
            }
            checksums = sourceInfo.checksums.filter { $0.key == algorithm.wireName }
            if checksums.isEmpty { hasher = ChecksumHasher(algorithm) }
        }
        // The copy is encrypted as its own headers (or the bucket's default) say, not as
        // the source: the source's chunks are opened and the copy sealed as a new stream.
        let sealing = try await sealing(bucket: object.bucket, requested: requestedEncryption,
                                        bucketKeyHeader: request.header(RequestedEncryption.bucketKeyHeader), checksMD5: false, remoteAddress: context.remoteAddress)
        let writer = try await store.makeWriter(bucket: object.bucket, key: object.key, metadata: metadata,
                                                acl: try newObjectACL(bucket: object.bucket, context),
                                                tags: replacedTags ?? sourceInfo.tags,
                                                conditions: try writeConditions(request), sealing: sealing,
                                                lock: try await lockForWrite(bucket: object.bucket, { request.header($0) },
                                                                             integrityChecked: true))
        let info: ObjectInfo
        do {
            try await store.stream(reader) { chunk in
                hasher?.update(chunk)
                try await writer.write(chunk)
            }
            if let hasher { checksums[hasher.algorithm.wireName] = hasher.finalizeBase64() }
            info = try await writer.finish(checksums: checksums)
        } catch {
            writer.abort()
            throw error
        }
        var headers = HTTPHeaders()
        if let version = source.versionId ?? (sourceInfo.versionID.isEmpty ? nil : sourceInfo.versionID) {
            headers.add(name: "x-amz-copy-source-version-id", value: Self.showVersion(version))
        }
        Self.addVersionHeader(info, versioning: writer.versioning, to: &headers)
        ObjectHeaders.addEncryption(info.encryption, customerKeyMD5: request.header(CustomerKey.prefix + "key-md5"),
                                    context: true, to: &headers)
        var xml = XMLWriter()
        xml.open("CopyObjectResult", namespace: Self.namespace)
        xml.element("LastModified", TimeFormat.iso8601(milliseconds: info.lastModified))
        xml.element("ETag", quoted: info.etag)
        for (name, value) in info.checksums.sorted(by: { $0.key < $1.key }) {
            xml.element("Checksum\(name)", value)
        }
        xml.close()
        var response = S3Response.xml(xml)
        response.headers.add(contentsOf: headers)
        return response
    }
}

extension CopySource {
    /// Opens the source version for reading. S3 refuses a delete marker named by its
    /// version id as a copy source (400 InvalidRequest); an unknown version is NoSuchVersion.
    func open(_ store: ObjectStore) async throws -> ObjectReader {
        do {
            return try await store.getObject(bucket: bucket, key: key, versionID: versionId)
        } catch let error as StoreError where error.code == .noSuchVersion {
            throw S3Error.noSuchVersion(key: key, versionId: S3RequestHandler.showVersion(versionId ?? ""))
        } catch let error as StoreError where error.code == .methodNotAllowed {
            throw S3Error.invalidRequest("The source of a copy request may not specifically refer to a delete marker by version id.")
        }
    }
}
