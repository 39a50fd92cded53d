import Foundation
import NIOCore
import ObjectStore

/// Listing a bucket: ListObjects (v1, marker-based), ListObjectsV2 (continuation tokens)
/// and ListObjectVersions.
extension S3RequestHandler {
    func listObjects(_ bucket: String, _ v1: ListObjectsParameters, _ context: Context) async throws -> S3Response {
        let parameters = v1.list
        let page = try await store.listObjects(bucket: bucket, ListRequest(
            prefix: parameters.prefix, delimiter: parameters.delimiter, after: v1.after, maxKeys: parameters.maxKeys))
        var xml = XMLWriter(capacity: Self.listingBytes(page))
        xml.open("ListBucketResult", namespace: Self.namespace)
        xml.element("Name", bucket)
        // S3 encodes v1's Delimiter, Marker and NextMarker under encoding-type=url, but
        // returns its top-level Prefix as sent (v2 encodes it).
        xml.element("Prefix", parameters.prefix)
        xml.element("Marker", parameters.show(v1.marker ?? ""))
        if page.isTruncated, let next = page.next { xml.element("NextMarker", parameters.show(next)) }
        xml.element("MaxKeys", String(parameters.maxKeys))
        if let delimiter = parameters.delimiter { xml.element("Delimiter", parameters.show(delimiter)) }
        if parameters.urlEncode { xml.element("EncodingType", "url") }
        xml.element("IsTruncated", page.isTruncated ? "true" : "false")
        writeEntries(page, into: &xml, parameters: parameters, owners: try requireBucket(bucket, context))
        xml.close()
        return .xml(xml)
    }

    func listObjectsV2(_ bucket: String, _ v2: ListObjectsV2Parameters, _ context: Context) async throws -> S3Response {
        let parameters = v2.list
        let page = try await store.listObjects(bucket: bucket, ListRequest(
            prefix: parameters.prefix, delimiter: parameters.delimiter, after: v2.after, maxKeys: parameters.maxKeys))
        var xml = XMLWriter(capacity: Self.listingBytes(page))
        xml.open("ListBucketResult", namespace: Self.namespace)
        xml.element("Name", bucket)
        xml.element("Prefix", parameters.show(parameters.prefix))
        if let startAfter = v2.startAfter { xml.element("StartAfter", parameters.show(startAfter)) }
        if let token = v2.continuationToken { xml.element("ContinuationToken", token) }
        if page.isTruncated, let next = page.next { xml.element("NextContinuationToken", ContinuationToken.encode(next)) }
        xml.element("KeyCount", String(page.objects.count + page.commonPrefixes.count))
        xml.element("MaxKeys", String(parameters.maxKeys))
        if let delimiter = parameters.delimiter { xml.element("Delimiter", parameters.show(delimiter)) }
        if parameters.urlEncode { xml.element("EncodingType", "url") }
        xml.element("IsTruncated", page.isTruncated ? "true" : "false")
        writeEntries(page, into: &xml, parameters: parameters, owners: v2.fetchOwner ? try requireBucket(bucket, context) : nil)
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

    /// ListObjectVersions (`GET /bucket?versions`): `Version` and `DeleteMarker` entries in
    /// key order, newest first within a key, then the common prefixes.
    func listObjectVersions(_ bucket: String, _ versions: ListVersionsParameters, _ context: Context) async throws -> S3Response {
        let parameters = versions.list
        let keyMarker = versions.keyMarker, versionIdMarker = versions.versionIdMarker
        let page = try await store.listVersions(
            bucket: bucket, prefix: parameters.prefix, delimiter: parameters.delimiter,
            keyMarker: keyMarker.isEmpty ? nil : keyMarker, versionIDMarker: versionIdMarker.isEmpty ? nil : versionIdMarker,
            maxKeys: parameters.maxKeys)
        let bucketSettings = try requireBucket(bucket, context)
        var xml = XMLWriter()
        xml.open("ListVersionsResult", namespace: Self.namespace)
        xml.element("Name", bucket)
        xml.element("Prefix", parameters.show(parameters.prefix))
        xml.element("KeyMarker", parameters.show(keyMarker))
        xml.element("VersionIdMarker", versionIdMarker)
        if page.isTruncated, let next = page.nextKeyMarker {
            xml.element("NextKeyMarker", parameters.show(next))
            if let version = page.nextVersionIDMarker { xml.element("NextVersionIdMarker", Self.showVersion(version)) }
        }
        xml.element("MaxKeys", String(parameters.maxKeys))
        if let delimiter = parameters.delimiter { xml.element("Delimiter", parameters.show(delimiter)) }
        if parameters.urlEncode { xml.element("EncodingType", "url") }
        xml.element("IsTruncated", page.isTruncated ? "true" : "false")
        for entry in page.entries {
            let info = entry.info
            let owner = Owner(canonicalId: bucketSettings.objectOwner(info), users: users)
            xml.element(info.isDeleteMarker ? "DeleteMarker" : "Version") { xml in
                xml.element("Key", parameters.show(info.key))
                xml.element("VersionId", Self.showVersion(info.versionID))
                xml.element("IsLatest", entry.isLatest ? "true" : "false")
                xml.element("LastModified", iso8601Milliseconds: info.lastModified)
                if !info.isDeleteMarker {
                    xml.element("ETag", quoted: info.etag)
                    for name in info.checksums.keys.sorted() { xml.element("ChecksumAlgorithm", name) }
                    if let type = ObjectHeaders.checksumType(info.checksums) { xml.element("ChecksumType", type) }
                    xml.element("Size", info.size)
                    xml.element("StorageClass", info.metadata["x-amz-storage-class"] ?? "STANDARD")
                }
                xml.element("Owner") {
                    $0.element("ID", owner.id)
                    $0.element("DisplayName", owner.displayName)
                }
            }
        }
        for prefix in page.commonPrefixes {
            xml.element("CommonPrefixes") { $0.element("Prefix", parameters.show(prefix)) }
        }
        xml.close()
        return .xml(xml)
    }
}
