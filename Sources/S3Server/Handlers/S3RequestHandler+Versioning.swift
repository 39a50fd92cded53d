import NIOHTTP1
import ObjectStore

/// Object versions as S3 shows them: version ids, the errors about versions and delete
/// markers, and the `x-amz-version-id` header of the object operations. (The versioning
/// configuration is in S3RequestHandler+BucketConfiguration.swift, ListObjectVersions in
/// S3RequestHandler+BucketListing.swift.)
extension S3RequestHandler {
    /// A stored version id as S3 shows it: `null` for the null version.
    static func showVersion(_ id: String) -> String { id.isEmpty ? "null" : id }

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

    /// `x-amz-version-id` on a response about one version: when the request named one or
    /// the bucket is versioned.
    static func addVersionHeader(of info: ObjectInfo, asked: Bool, to response: inout S3Response) {
        if asked || !info.versionID.isEmpty {
            response.headers.add(name: "x-amz-version-id", value: showVersion(info.versionID))
        }
    }
}
