import Foundation
import NIOCore
import NIOHTTP1
import ObjectStore

/// Bucket versioning: Put/GetBucketVersioning and ListObjectVersions, and the version-id
/// parameters and headers of the object operations.
extension S3RequestHandler {
    /// PutBucketVersioning: `Status` Enabled or Suspended (anything else, or none, is
    /// MalformedXML, as S3 answers); `MfaDelete` Enabled needs MFA devices, which Strata
    /// does not have: NotImplemented.
    func putBucketVersioning(_ context: Context) async throws -> S3Response {
        let bytes = try await readDocument(context, limit: 64 * 1024)
        let root = try XMLTree.parseDocument(bytes, root: "VersioningConfiguration")
        // The whole document is validated before the part Strata does not implement.
        let status = root.child("Status")?.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let status, let state = BucketVersioning(rawValue: status), state != .unversioned else {
            throw S3Error.malformedXML
        }
        if let mfa = root.child("MfaDelete")?.text.trimmingCharacters(in: .whitespacesAndNewlines) {
            switch mfa {
            case "Disabled": break
            case "Enabled": throw S3Error.notImplemented("MFA delete is not implemented by Strata")
            default: throw S3Error.malformedXML
            }
        }
        try await store.setVersioning(bucket: context.bucket, state)
        return S3Response()
    }

    /// GetBucketVersioning: an empty `VersioningConfiguration` for a bucket that never had
    /// versioning enabled.
    func getBucketVersioning(_ context: Context) async throws -> S3Response {
        let state = try await store.versioning(bucket: context.bucket)
        var xml = XMLWriter()
        xml.open("VersioningConfiguration", namespace: Self.namespace)
        if state != .unversioned { xml.element("Status", state.rawValue) }
        xml.close()
        return .xml(xml)
    }

    /// ListObjectVersions (`GET /bucket?versions`): `Version` and `DeleteMarker` entries in
    /// key order, newest first within a key, then the common prefixes.
    func listObjectVersions(_ context: Context) async throws -> S3Response {
        let request = context.request
        let parameters = try ListParameters(request)
        let keyMarker = request.query("key-marker") ?? ""
        let versionIdMarker = request.query("version-id-marker") ?? ""
        if !versionIdMarker.isEmpty {
            guard !keyMarker.isEmpty else {
                throw S3Error.invalidArgument("A version-id marker cannot be specified without a key marker.",
                                              name: "version-id-marker", value: versionIdMarker)
            }
            guard ObjectStore.isWellFormedVersionID(versionIdMarker) else {
                throw S3Error.invalidArgument("Invalid version id specified", name: "version-id-marker", value: versionIdMarker)
            }
        }
        let page = try await store.listVersions(
            bucket: context.bucket, prefix: parameters.prefix, delimiter: parameters.delimiter,
            keyMarker: keyMarker.isEmpty ? nil : keyMarker, versionIDMarker: versionIdMarker.isEmpty ? nil : versionIdMarker,
            maxKeys: parameters.maxKeys)
        let bucketSettings = try requireBucket(context)
        var xml = XMLWriter()
        xml.open("ListVersionsResult", namespace: Self.namespace)
        xml.element("Name", context.bucket)
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

    /// A stored version id as S3 shows it: `null` for the null version.
    static func showVersion(_ id: String) -> String { id.isEmpty ? "null" : id }

    /// The `versionId` query parameter in the store's form (empty: the null version).
    /// A malformed id is 400 InvalidArgument, as in S3; a well-formed one that names no
    /// version is the operation's business (404 NoSuchVersion on GET, success on DELETE).
    static func requestedVersion(_ request: S3Request) throws -> String? {
        guard let text = request.query("versionId") else { return nil }
        guard ObjectStore.isWellFormedVersionID(text) else {
            throw S3Error.invalidArgument("Invalid version id specified", name: "versionId", value: text)
        }
        return text == "null" ? "" : text
    }

    /// Runs a version lookup, turning the store's version errors into S3's for `key`.
    static func mappingVersionErrors<T>(key: String, versionId: String?, method: String,
                                        _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StoreError where error.code == .noSuchVersion {
            throw S3Error.noSuchVersion(key: key, versionId: showVersion(versionId ?? ""))
        } catch let error as StoreError where error.code == .methodNotAllowed {
            var s3 = S3Error.methodNotAllowed(method: method, resourceType: "DeleteMarker")
            s3.responseHeaders = deleteMarkerHeaders(error.deleteMarker, lastModified: true)
            throw s3
        }
    }

    /// `x-amz-delete-marker`, `x-amz-version-id` (and `Last-Modified`) of a delete marker an
    /// answer is about.
    static func deleteMarkerHeaders(_ marker: StoreError.DeleteMarker?, lastModified: Bool) -> [S3Error.Field] {
        guard let marker else { return [] }
        var fields = [S3Error.Field("x-amz-delete-marker", "true"), S3Error.Field("x-amz-version-id", marker.versionID)]
        if lastModified {
            // A delete marker addressed by id (405): the only method it allows is DELETE.
            fields.append(S3Error.Field("Last-Modified", TimeFormat.httpDate(milliseconds: marker.lastModified)))
            fields.append(S3Error.Field("Allow", "DELETE"))
        }
        return fields
    }

    /// `x-amz-version-id` of a write: the new version's id with versioning Enabled. S3
    /// names no version in the answer to a write into a Suspended bucket (the `null`
    /// version it wrote) or an unversioned one; reads of the `null` version do name it.
    static func addVersionHeader(_ info: ObjectInfo, versioning: BucketVersioning, to headers: inout HTTPHeaders) {
        guard versioning == .enabled, !info.versionID.isEmpty else { return }
        headers.add(name: "x-amz-version-id", value: info.versionID)
    }
}
