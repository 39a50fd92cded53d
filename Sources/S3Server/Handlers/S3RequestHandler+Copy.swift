import Foundation
import NIOCore
import NIOHTTP1
import ObjectStore

/// CopyObject: a PUT with `x-amz-copy-source`.
extension S3RequestHandler {
    func copyObject(_ context: Context) async throws -> S3Response {
        let request = context.request
        try ObjectHeaders.rejectUnsupported(request.headers)
        let source = try CopySource(request.header("x-amz-copy-source")!)
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
        let changesSomething = directive == "REPLACE" || metadata != sourceInfo.metadata
        // Copying a named version onto its own key is how S3 restores it (a new current
        // version): only the current object copied onto itself unchanged is refused.
        if source.bucket == context.bucket && source.key == context.key && source.versionId == nil && !changesSomething {
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
        let writer = try await store.makeWriter(bucket: context.bucket, key: context.key, metadata: metadata,
                                                acl: try newObjectACL(context), tags: replacedTags ?? sourceInfo.tags,
                                                conditions: try writeConditions(request))
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

/// The `x-amz-copy-source` header: `bucket/key` or `/bucket/key`, URL-encoded, with an
/// optional `?versionId=`; a `+` in it is a literal plus (docs/S3-NOTES.md,
/// "x-amz-copy-source is URL-encoded").
struct CopySource {
    let bucket: String
    let key: String
    /// The source version (`?versionId=`), in the store's form (empty: the null version).
    let versionId: String?

    init(_ header: String) throws {
        var text = Substring(header)
        var versionId: String?
        if let q = text.firstIndex(of: "?") {
            let query = text[text.index(after: q)...]
            text = text[..<q]
            for item in query.split(separator: "&") where item.hasPrefix("versionId=") {
                // An id that does not decode is malformed, never absent (which would copy
                // the current version instead of the one asked for).
                guard let decoded = S3Request.percentDecode(item.dropFirst("versionId=".count), plusAsSpace: false) else {
                    throw S3Error.invalidArgument("Invalid version id specified", name: "x-amz-copy-source", value: header)
                }
                versionId = decoded
            }
        }
        guard let decoded = S3Request.percentDecode(text, plusAsSpace: false) else {
            throw S3Error.invalidArgument("Invalid copy source encoding", name: "x-amz-copy-source", value: header)
        }
        var path = Substring(decoded)
        if path.hasPrefix("/") { path = path.dropFirst() }
        guard let slash = path.firstIndex(of: "/"), slash != path.startIndex, path.index(after: slash) != path.endIndex else {
            throw S3Error.invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                                          name: "x-amz-copy-source", value: header)
        }
        if let versionId, !ObjectStore.isWellFormedVersionID(versionId) {
            throw S3Error.invalidArgument("Invalid version id specified", name: "x-amz-copy-source", value: header)
        }
        self.versionId = versionId.map { $0 == "null" ? "" : $0 }
        bucket = String(path[..<slash])
        guard (1...63).contains(bucket.utf8.count) else { throw S3Error.invalidBucketName(bucket: bucket) }
        key = String(path[path.index(after: slash)...])
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
