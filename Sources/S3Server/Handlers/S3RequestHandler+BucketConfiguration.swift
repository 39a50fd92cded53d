import Foundation
import NIOCore
import NIOHTTP1
import ObjectStore

/// The configurations of a bucket, its sub-resources: versioning, lifecycle, tagging,
/// CORS, the ACL, the policy (and its status), Block Public Access and Object Ownership.
/// Each document is validated, stored durably through the log (`putBucketConfig`) and
/// returned as stored; changing one forgets the bucket's cached settings.
extension S3RequestHandler {
    /// Stores a configuration document of `bucket` (empty: removes it) and forgets the
    /// cached settings. Every configuration change goes through here.
    func storeBucketConfig(_ bucket: String, name: BucketConfigName, document: [UInt8]) async throws {
        defer { settingsCache.invalidate(bucket) }
        try await store.putBucketConfig(bucket: bucket, name: name, document: document)
    }

    /// A stored configuration document as GET returns it (as stored: validated when PUT),
    /// or `missing` (S3's NoSuch… error) when the bucket has none.
    func storedConfigResponse(_ bucket: String, name: BucketConfigName, missing: S3Error) async throws -> S3Response {
        guard let document = try await store.bucketConfig(bucket: bucket, name: name) else { throw missing }
        var response = S3Response.xml("")
        response.body = .bytes(ByteBuffer(bytes: document))
        return response
    }

    // MARK: - Versioning

    /// PutBucketVersioning: `Status` Enabled or Suspended (anything else, or none, is
    /// MalformedXML, as S3 answers); `MfaDelete` Enabled needs MFA devices, which Strata
    /// does not have: NotImplemented.
    func putBucketVersioning(_ bucket: String, _ context: Context) async throws -> S3Response {
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
        defer { settingsCache.invalidate(bucket) }
        try await store.setVersioning(bucket: bucket, state)
        return S3Response()
    }

    /// GetBucketVersioning: an empty `VersioningConfiguration` for a bucket that never had
    /// versioning enabled.
    func getBucketVersioning(_ bucket: String) async throws -> S3Response {
        let state = try await store.versioning(bucket: bucket)
        var xml = XMLWriter()
        xml.open("VersioningConfiguration", namespace: Self.namespace)
        if state != .unversioned { xml.element("Status", state.rawValue) }
        xml.close()
        return .xml(xml)
    }

    // MARK: - Lifecycle

    func putBucketLifecycle(_ bucket: String, _ context: Context) async throws -> S3Response {
        let document = try LifecycleConfiguration.storedDocument(try await readDocument(context, limit: 1 << 20))
        try await storeBucketConfig(bucket, name: .lifecycle, document: document)
        return S3Response()
    }

    func getBucketLifecycle(_ bucket: String) async throws -> S3Response {
        try await storedConfigResponse(bucket, name: .lifecycle,
                                       missing: .noSuchLifecycleConfiguration(bucket: bucket))
    }

    func deleteBucketLifecycle(_ bucket: String) async throws -> S3Response {
        try await storeBucketConfig(bucket, name: .lifecycle, document: [])
        return S3Response(status: .noContent)
    }

    // MARK: - Tagging

    /// Replaces the bucket's tags; S3 answers 204 No Content.
    func putBucketTagging(_ bucket: String, _ context: Context) async throws -> S3Response {
        let document = try await readDocument(context, limit: 64 * 1024)
        let tags = try TagSet.parse(document, kind: .bucket)
        try await storeBucketConfig(bucket, name: .tagging, document: tags.encodedDocument())
        return S3Response(status: .noContent)
    }

    /// The bucket's tags; 404 NoSuchTagSet when it has none.
    func getBucketTagging(_ bucket: String) async throws -> S3Response {
        try await storedConfigResponse(bucket, name: .tagging, missing: .noSuchTagSet(bucket: bucket))
    }

    func deleteBucketTagging(_ bucket: String) async throws -> S3Response {
        try await storeBucketConfig(bucket, name: .tagging, document: [])
        return S3Response(status: .noContent)
    }

    // MARK: - CORS

    func putBucketCors(_ bucket: String, _ context: Context) async throws -> S3Response {
        let document = try await readDocument(context, limit: 1 << 20)
        _ = try CORSConfiguration.parse(document)
        try await storeBucketConfig(bucket, name: .cors, document: document)
        return S3Response()
    }

    func getBucketCors(_ bucket: String) async throws -> S3Response {
        try await storedConfigResponse(bucket, name: .cors, missing: .noSuchCORSConfiguration(bucket: bucket))
    }

    func deleteBucketCors(_ bucket: String) async throws -> S3Response {
        // Removing a configuration that does not exist succeeds (S3 answers 204 too).
        try await storeBucketConfig(bucket, name: .cors, document: [])
        return S3Response(status: .noContent)
    }

    // MARK: - ACL

    func getBucketAcl(_ bucket: String, _ context: Context) async throws -> S3Response {
        let settings = try requireBucket(bucket, context)
        return .xml(settings.aclsEnabled ? settings.acl.render(users: users) : AccessControlList.privateACL(owner: settings.owner).render(users: users))
    }

    func putBucketAcl(_ bucket: String, _ context: Context) async throws -> S3Response {
        let settings = try requireBucket(bucket, context)
        let acl = try await requestedACL(context, owner: settings.owner, bucketOwner: nil)
        if !settings.aclsEnabled && acl != .privateACL(owner: settings.owner) { throw S3Error.accessControlListNotSupported() }
        if acl.isPublic && settings.publicAccessBlock?.blockPublicAcls == true { throw S3Error.accessDenied() }
        try await storeBucketConfig(bucket, name: .acl, document: acl.encoded())
        return S3Response()
    }

    // MARK: - Policy

    func getBucketPolicy(_ bucket: String, _ context: Context) async throws -> S3Response {
        _ = try requireBucket(bucket, context)
        guard let document = try await store.bucketConfig(bucket: bucket, name: .policy) else {
            throw S3Error.noSuchBucketPolicy(bucket: bucket)
        }
        var response = S3Response()
        response.headers.add(name: "Content-Type", value: "application/json")
        response.body = .bytes(ByteBuffer(bytes: document))
        return response
    }

    func putBucketPolicy(_ bucket: String, _ context: Context) async throws -> S3Response {
        let settings = try requireBucket(bucket, context)
        let document = try await readDocument(context, limit: 4 * BucketPolicy.maxSize)
        let policy = try BucketPolicy.parse(document, bucket: bucket, users: users)
        if policy.isPublic && settings.publicAccessBlock?.blockPublicPolicy == true { throw S3Error.accessDenied() }
        try await storeBucketConfig(bucket, name: .policy, document: document)
        return S3Response(status: .noContent)
    }

    func deleteBucketPolicy(_ bucket: String, _ context: Context) async throws -> S3Response {
        _ = try requireBucket(bucket, context)
        try await storeBucketConfig(bucket, name: .policy, document: [])
        return S3Response(status: .noContent)
    }

    func getBucketPolicyStatus(_ bucket: String, _ context: Context) async throws -> S3Response {
        let settings = try requireBucket(bucket, context)
        guard let policy = settings.policy else { throw S3Error.noSuchBucketPolicy(bucket: bucket) }
        var xml = XMLWriter()
        xml.open("PolicyStatus", namespace: s3Namespace)
        xml.element("IsPublic", policy.isPublic ? "true" : "false")
        xml.close()
        return .xml(xml)
    }

    // MARK: - Block Public Access

    func getPublicAccessBlock(_ bucket: String, _ context: Context) async throws -> S3Response {
        guard let block = try requireBucket(bucket, context).publicAccessBlock else {
            throw S3Error.noSuchPublicAccessBlockConfiguration(bucket: bucket)
        }
        return .xml(block.render())
    }

    func putPublicAccessBlock(_ bucket: String, _ context: Context) async throws -> S3Response {
        _ = try requireBucket(bucket, context)
        let block = try PublicAccessBlock.parse(try await readDocument(context, limit: 64 * 1024))
        try await storeBucketConfig(bucket, name: .publicAccessBlock, document: block.render().bytes)
        return S3Response()
    }

    func deletePublicAccessBlock(_ bucket: String, _ context: Context) async throws -> S3Response {
        _ = try requireBucket(bucket, context)
        try await storeBucketConfig(bucket, name: .publicAccessBlock, document: [])
        return S3Response(status: .noContent)
    }

    // MARK: - Object Ownership

    func getOwnershipControls(_ bucket: String, _ context: Context) async throws -> S3Response {
        guard let ownership = try requireBucket(bucket, context).ownership else {
            throw S3Error.ownershipControlsNotFoundError(bucket: bucket)
        }
        return .xml(ownership.render())
    }

    func putOwnershipControls(_ bucket: String, _ context: Context) async throws -> S3Response {
        let settings = try requireBucket(bucket, context)
        let ownership = try ObjectOwnership.parse(try await readDocument(context, limit: 64 * 1024))
        // S3 refuses to disable ACLs while the bucket's ACL grants to anyone but its owner.
        if ownership == .bucketOwnerEnforced && settings.acl != .privateACL(owner: settings.owner) {
            throw S3Error.invalidBucketAclWithObjectOwnership()
        }
        try await storeBucketConfig(bucket, name: .ownershipControls, document: Array(ownership.rawValue.utf8))
        return S3Response()
    }

    func deleteOwnershipControls(_ bucket: String, _ context: Context) async throws -> S3Response {
        _ = try requireBucket(bucket, context)
        try await storeBucketConfig(bucket, name: .ownershipControls, document: [])
        return S3Response(status: .noContent)
    }
}
