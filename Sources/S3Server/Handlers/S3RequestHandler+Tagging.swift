import NIOCore
import NIOHTTP1
import ObjectStore

/// Object tagging (Put/Get/DeleteObjectTagging) and bucket tagging
/// (Put/Get/DeleteBucketTagging). Object tags live with the object version (its commit
/// record), so changing them re-commits the version's entry (``ObjectStore/updateObject``);
/// bucket tags are a configuration document stored through the log.
extension S3RequestHandler {
    // MARK: - Object tagging

    func putObjectTagging(_ context: Context) async throws -> S3Response {
        let document = try await readDocument(context, limit: 64 * 1024)
        let tags = try TagSet.parse(document, kind: .object).tags
        return try await changeTags(context, to: tags, status: .ok)
    }

    /// An object without tags answers an empty TagSet (not an error), as S3 does.
    func getObjectTagging(_ context: Context) async throws -> S3Response {
        let (versionID, info) = try await addressedVersion(context)
        var response = S3Response.xml(TagSet(tags: info.tags).document())
        Self.addVersionHeader(of: info, asked: versionID != nil, to: &response)
        return response
    }

    func deleteObjectTagging(_ context: Context) async throws -> S3Response {
        try await changeTags(context, to: [:], status: .noContent)
    }

    /// Replaces the tags of the version the request addresses (`versionId`, else the
    /// current one) by re-committing it (``ObjectStore/recommitVersion``): same id, same
    /// bytes, no new version. The caller's right to do so is checked on the version as it
    /// is at the commit.
    private func changeTags(_ context: Context, to tags: [String: String], status: HTTPResponseStatus) async throws -> S3Response {
        let versionID = try Self.requestedVersion(context.request)
        let access = context.access
        let info = try await Self.mappingVersionErrors(key: context.key, versionId: versionID, method: context.request.method.rawValue) {
            try await store.recommitVersion(bucket: context.bucket, key: context.key, versionID: versionID) { version in
                try access.authorize(object: version)
                version.tags = tags
            }
        }
        var response = S3Response(status: status)
        Self.addVersionHeader(of: info, asked: versionID != nil, to: &response)
        return response
    }

    /// `x-amz-version-id` on a response about one version: when the request named one or
    /// the bucket is versioned.
    static func addVersionHeader(of info: ObjectInfo, asked: Bool, to response: inout S3Response) {
        if asked || !info.versionID.isEmpty {
            response.headers.add(name: "x-amz-version-id", value: showVersion(info.versionID))
        }
    }

    // MARK: - Bucket tagging

    /// Replaces the bucket's tags; S3 answers 204 No Content.
    func putBucketTagging(_ context: Context) async throws -> S3Response {
        let document = try await readDocument(context, limit: 64 * 1024)
        let tags = try TagSet.parse(document, kind: .bucket)
        try await storeBucketConfig(context, name: .tagging, document: tags.encodedDocument())
        return S3Response(status: .noContent)
    }

    /// The bucket's tags; 404 NoSuchTagSet when it has none.
    func getBucketTagging(_ context: Context) async throws -> S3Response {
        try await storedConfigResponse(context, name: .tagging, missing: .noSuchTagSet(bucket: context.bucket))
    }

    func deleteBucketTagging(_ context: Context) async throws -> S3Response {
        try await storeBucketConfig(context, name: .tagging, document: [])
        return S3Response(status: .noContent)
    }
}
