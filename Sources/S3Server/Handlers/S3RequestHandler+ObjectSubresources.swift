import NIOCore
import NIOHTTP1
import ObjectStore

/// The sub-resources of an object version: its ACL (Get/PutObjectAcl) and its tags
/// (Put/Get/DeleteObjectTagging). Both live with the version (its commit record), so
/// changing them re-commits the version's entry (``ObjectStore/recommitVersion``): same
/// id, same bytes, no new version.
extension S3RequestHandler {
    /// The object version a sub-resource operation (ACL, tagging) addresses: `versionId`
    /// or the current one, read and authorized.
    func addressedVersion(_ object: ObjectAddress, _ context: Context) async throws -> ObjectInfo {
        let info = try await Self.mappingVersionErrors(key: object.key, versionId: object.versionId,
                                                       method: context.request.method.rawValue) {
            try await store.headObject(bucket: object.bucket, key: object.key, versionID: object.versionId)
        }
        try context.access.authorize(object: info)
        return info
    }

    // MARK: - ACL

    func getObjectAcl(_ object: ObjectAddress, _ context: Context) async throws -> S3Response {
        let bucket = try requireBucket(object.bucket, context)
        let info = try await addressedVersion(object, context)
        var response = S3Response.xml(bucket.objectACL(info).render(users: users))
        Self.addVersionHeader(of: info, asked: object.versionId != nil, to: &response)
        return response
    }

    func putObjectAcl(_ object: ObjectAddress, _ context: Context) async throws -> S3Response {
        let bucket = try requireBucket(object.bucket, context)
        let info = try await addressedVersion(object, context)
        var response = S3Response()
        Self.addVersionHeader(of: info, asked: object.versionId != nil, to: &response)
        let owner = bucket.objectOwner(info)
        let acl = try await requestedACL(context, owner: owner, bucketOwner: bucket.owner)
        if !bucket.aclsEnabled {
            guard context.request.header("x-amz-acl") == "bucket-owner-full-control" || acl == .privateACL(owner: bucket.owner) else {
                throw S3Error.accessControlListNotSupported()
            }
            return response
        }
        if acl.isPublic && bucket.publicAccessBlock?.blockPublicAcls == true { throw S3Error.accessDenied() }
        let encoded = acl == .privateACL(owner: bucket.owner) ? [] : acl.encoded()
        let access = context.access
        _ = try await Self.mappingVersionErrors(key: object.key, versionId: object.versionId, method: "PUT") {
            try await store.recommitVersion(bucket: object.bucket, key: object.key,
                                            versionID: object.versionId ?? info.versionID) { version in
                // The version as it is at the commit: the caller must still be allowed to
                // change its ACL, and its owner must be the one the new ACL names. (S3Error
                // is a ControlSignal: it reaches the client as thrown.)
                try access.authorize(object: version)
                guard bucket.objectOwner(version) == owner else { throw S3Error.operationAborted() }
                version.acl = encoded
            }
        }
        return response
    }

    // MARK: - Tagging

    func putObjectTagging(_ object: ObjectAddress, _ context: Context) async throws -> S3Response {
        let document = try await readDocument(context, limit: 64 * 1024)
        let tags = try TagSet.parse(document, kind: .object).tags
        return try await changeTags(object, context, to: tags, status: .ok)
    }

    /// An object without tags answers an empty TagSet (not an error), as S3 does.
    func getObjectTagging(_ object: ObjectAddress, _ context: Context) async throws -> S3Response {
        let info = try await addressedVersion(object, context)
        var response = S3Response.xml(TagSet(tags: info.tags).document())
        Self.addVersionHeader(of: info, asked: object.versionId != nil, to: &response)
        return response
    }

    func deleteObjectTagging(_ object: ObjectAddress, _ context: Context) async throws -> S3Response {
        try await changeTags(object, context, to: [:], status: .noContent)
    }

    /// Replaces the tags of the version the request addresses (`versionId`, else the
    /// current one) by re-committing it (``ObjectStore/recommitVersion``): same id, same
    /// bytes, no new version. The caller's right to do so is checked on the version as it
    /// is at the commit.
    private func changeTags(_ object: ObjectAddress, _ context: Context, to tags: [String: String],
                            status: HTTPResponseStatus) async throws -> S3Response {
        let access = context.access
        let info = try await Self.mappingVersionErrors(key: object.key, versionId: object.versionId,
                                                       method: context.request.method.rawValue) {
            try await store.recommitVersion(bucket: object.bucket, key: object.key, versionID: object.versionId) { version in
                try access.authorize(object: version)
                version.tags = tags
            }
        }
        var response = S3Response(status: status)
        Self.addVersionHeader(of: info, asked: object.versionId != nil, to: &response)
        return response
    }
}
