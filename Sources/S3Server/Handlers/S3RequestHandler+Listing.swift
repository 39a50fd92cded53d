import Foundation
import NIOCore
import ObjectStore

/// ListObjects (v1, marker-based) and ListObjectsV2 (continuation tokens).
extension S3RequestHandler {
    /// The common parameters of both listing versions.
    struct ListParameters {
        var prefix: String
        var delimiter: String?
        var maxKeys: Int
        var urlEncode: Bool

        init(_ request: S3Request) throws {
            prefix = request.query("prefix") ?? ""
            delimiter = request.query("delimiter").flatMap { $0.isEmpty ? nil : $0 }
            maxKeys = 1000
            if let text = request.query("max-keys") {
                guard let value = Int(text), value >= 0 else {
                    throw S3Error.invalidArgument("Provided max-keys not an integer or within integer range",
                                                  name: "max-keys", value: text)
                }
                maxKeys = min(value, 1000)
            }
            switch request.query("encoding-type") {
            case nil: urlEncode = false
            case "url": urlEncode = true
            case let other?:
                throw S3Error.invalidArgument("Invalid Encoding Method specified in Request", name: "encoding-type", value: other)
            }
        }

        /// A key, prefix, delimiter or marker as the listing shows it: URL-encoded (slashes
        /// kept) under `encoding-type=url` (docs/S3-NOTES.md, "Listing XML and encoding-type=url").
        func show(_ text: String) -> String {
            urlEncode ? SigV4.uriEncode(Array(text.utf8), keepSlash: true) : text
        }
    }

    func listObjectsV1(_ context: Context) async throws -> S3Response {
        let request = context.request
        let parameters = try ListParameters(request)
        let marker = request.query("marker")
        let page = try await store.listObjects(bucket: context.bucket, ListRequest(
            prefix: parameters.prefix, delimiter: parameters.delimiter,
            after: marker.flatMap { $0.isEmpty ? nil : $0 }, maxKeys: parameters.maxKeys))
        var xml = XMLWriter(capacity: Self.listingBytes(page))
        xml.open("ListBucketResult", namespace: Self.namespace)
        xml.element("Name", context.bucket)
        // S3 encodes v1's Delimiter, Marker and NextMarker under encoding-type=url, but
        // returns its top-level Prefix as sent (v2 encodes it).
        xml.element("Prefix", parameters.prefix)
        xml.element("Marker", parameters.show(marker ?? ""))
        if page.isTruncated, let next = page.next { xml.element("NextMarker", parameters.show(next)) }
        xml.element("MaxKeys", String(parameters.maxKeys))
        if let delimiter = parameters.delimiter { xml.element("Delimiter", parameters.show(delimiter)) }
        if parameters.urlEncode { xml.element("EncodingType", "url") }
        xml.element("IsTruncated", page.isTruncated ? "true" : "false")
        writeEntries(page, into: &xml, parameters: parameters, owners: try requireBucket(context))
        xml.close()
        return .xml(xml)
    }

    func listObjectsV2(_ context: Context) async throws -> S3Response {
        let request = context.request
        let parameters = try ListParameters(request)
        let token = request.query("continuation-token")
        let startAfter = request.query("start-after")
        var after = startAfter.flatMap { $0.isEmpty ? nil : $0 }
        if let token {
            // The token names the last key (or common prefix) of the previous page, so a
            // common prefix is never repeated across pages (docs/S3-NOTES.md, "ListObjectsV2
            // paging").
            after = try ContinuationToken.decode(token)
        }
        let page = try await store.listObjects(bucket: context.bucket, ListRequest(
            prefix: parameters.prefix, delimiter: parameters.delimiter, after: after, maxKeys: parameters.maxKeys))
        let fetchOwner = request.query("fetch-owner") == "true"
        var xml = XMLWriter(capacity: Self.listingBytes(page))
        xml.open("ListBucketResult", namespace: Self.namespace)
        xml.element("Name", context.bucket)
        xml.element("Prefix", parameters.show(parameters.prefix))
        if let startAfter { xml.element("StartAfter", parameters.show(startAfter)) }
        if let token { xml.element("ContinuationToken", token) }
        if page.isTruncated, let next = page.next { xml.element("NextContinuationToken", ContinuationToken.encode(next)) }
        xml.element("KeyCount", String(page.objects.count + page.commonPrefixes.count))
        xml.element("MaxKeys", String(parameters.maxKeys))
        if let delimiter = parameters.delimiter { xml.element("Delimiter", parameters.show(delimiter)) }
        if parameters.urlEncode { xml.element("EncodingType", "url") }
        xml.element("IsTruncated", page.isTruncated ? "true" : "false")
        writeEntries(page, into: &xml, parameters: parameters, owners: fetchOwner ? try requireBucket(context) : nil)
        xml.close()
        return .xml(xml)
    }

    /// About the size of a listing page's document (an entry without owner is about
    /// 200 bytes plus its key), reserved up front.
    static func listingBytes(_ page: ListPage) -> Int {
        1024 + page.objects.reduce(0) { $0 + 224 + $1.key.utf8.count } + page.commonPrefixes.reduce(0) { $0 + 48 + $1.utf8.count }
    }

    /// `owners`: the bucket's access settings, to show each object's owner; nil shows none.
    private func writeEntries(_ page: ListPage, into xml: inout XMLWriter, parameters: ListParameters, owners: BucketSettings?) {
        // Fields are read in place (`page.objects[i].…`): iterating the elements copied
        // each ObjectInfo, retaining and releasing a dozen fields per entry (perf).
        for i in page.objects.indices {
            let owner = owners.map { Owner(canonicalId: $0.objectOwner(page.objects[i]), users: users) }
            xml.open("Contents")
            xml.element("Key", parameters.show(page.objects[i].key))
            xml.element("LastModified", iso8601Milliseconds: page.objects[i].lastModified)
            xml.element("ETag", quoted: page.objects[i].etag)
            if !page.objects[i].checksums.isEmpty {
                for name in page.objects[i].checksums.keys.sorted() { xml.element("ChecksumAlgorithm", name) }
                if let type = ObjectHeaders.checksumType(page.objects[i].checksums) { xml.element("ChecksumType", type) }
            }
            xml.element("Size", page.objects[i].size)
            if let owner {
                xml.element("Owner") {
                    $0.element("ID", owner.id)
                    $0.element("DisplayName", owner.displayName)
                }
            }
            xml.element("StorageClass", page.objects[i].metadata["x-amz-storage-class"] ?? "STANDARD")
            xml.close()
        }
        for prefix in page.commonPrefixes {
            xml.element("CommonPrefixes") { $0.element("Prefix", parameters.show(prefix)) }
        }
    }
}
