import Foundation
import NIOCore
import ObjectStore

/// Authorization, and the operations that change it: bucket and object ACLs, bucket
/// policies and their status, Block Public Access, Object Ownership.
extension S3RequestHandler {
    // MARK: - Deciding

    /// Applies `rule` before the operation runs: AccessDenied unless the caller may go
    /// on. Object operations are decided for good once the object is read
    /// (``RequestAccess/authorize(object:)``). A missing bucket is left to the operation,
    /// which answers NoSuchBucket (as S3 does, to anonymous callers too).
    func authorize(_ rule: AccessRule, request: S3Request, principal: Principal, auth: AuthenticatedRequest,
                   remoteAddress: String?, now: Date) async throws -> RequestAccess {
        try await checkExpectedBucketOwner(request)
        return try await authorize(rule, bucket: request.bucket, key: request.key, request: request, principal: principal,
                            auth: auth, remoteAddress: remoteAddress, now: now)
    }

    /// ``authorize(_:request:principal:auth:remoteAddress:now:)`` for a target other than
    /// the request's own (a copy's source, one key of a DeleteObjects).
    func authorize(_ rule: AccessRule, bucket name: String?, key: String?, request: S3Request, principal: Principal,
                   auth: AuthenticatedRequest, remoteAddress: String?, now: Date,
                   formFields: [String: String]? = nil) async throws -> RequestAccess {
        func keys() -> [String: [String]] {
            ConditionKeys.of(request: request, principal: principal, auth: auth, secure: configuration.tls != nil,
                             remoteAddress: remoteAddress, now: now, formFields: formFields)
        }
        switch rule.need {
        case .handler:
            return RequestAccess(principal: principal, rule: rule, bucket: nil, resource: "", keys: [:], policyDecision: .none)
        case .authenticated:
            guard !principal.isAnonymous else { throw S3Error.accessDenied() }
            return RequestAccess(principal: principal, rule: rule, bucket: nil, resource: "", keys: [:], policyDecision: .none)
        default:
            break
        }
        guard let name, let bucket = try await bucketSettings(name) else {
            return RequestAccess(principal: principal, rule: rule, bucket: nil, resource: "", keys: [:], policyDecision: .none)
        }
        let resource = key.map { "arn:aws:s3:::\(name)/\($0)" } ?? "arn:aws:s3:::\(name)"
        let access = RequestAccess(principal: principal, rule: rule, bucket: bucket, resource: resource,
                                   keys: bucket.policy == nil ? [:] : keys(), policyDecision: .none)
        let decision = RequestAccess.decide(principal: principal, rule: rule, bucket: bucket, resource: resource, keys: access.keys)
        let isOwner = !principal.isAnonymous && principal.canonicalId == bucket.owner
        let policyOperation = rule.action.hasSuffix("BucketPolicy")
        if decision == .deny {
            // The owner can always manage the policy, so a policy cannot lock its bucket away.
            if policyOperation && isOwner {
                return RequestAccess(principal: principal, rule: rule, bucket: bucket, resource: resource, keys: access.keys,
                                     policyDecision: .allow)
            }
            // S3 answers 405 to other accounts that the policy lets manage the policy.
            if policyOperation, bucket.policy?.evaluate(principal: principal, action: rule.action, resource: resource,
                                                        keys: access.keys) == .allow {
                throw S3Error.methodNotAllowed(method: request.method.rawValue, resourceType: "BUCKETPOLICY")
            }
            throw S3Error.accessDenied()
        }
        return RequestAccess(principal: principal, rule: rule, bucket: bucket, resource: resource, keys: access.keys,
                             policyDecision: decision)
    }

    /// The decision for one more action within a request (each key of a DeleteObjects):
    /// AccessDenied unless `principal` may do it, as far as it can be told without the
    /// object (``RequestAccess/authorize(object:)`` finishes it).
    @discardableResult
    func authorize(_ context: Context, _ rule: AccessRule, bucket name: String, key: String?) async throws -> RequestAccess {
        try await authorize(rule, bucket: name, key: key, request: context.request, principal: context.principal,
                            auth: context.auth, remoteAddress: context.remoteAddress, now: Date())
    }

    /// Opens the source of a CopyObject / UploadPartCopy for a caller who may read it
    /// (s3:GetObject on the source). A missing source is AccessDenied, not NoSuchKey, to
    /// a caller who may not list its bucket, as for a GET.
    func readCopySource(_ context: Context, _ source: CopySource) async throws -> ObjectReader {
        let access = try await authorize(context, AccessRule.object("s3:GetObject", .read).forVersion(source.versionId != nil),
                                         bucket: source.bucket, key: source.key)
        if let bucket = access.bucket {
            try ExpectedBucketOwner.check(context.request.header(ExpectedBucketOwner.sourceHeader), owner: bucket.owner,
                                          users: users)
        }
        let reader: ObjectReader
        do {
            reader = try await source.open(store)
        } catch let error as StoreError where error.code == .noSuchKey && !access.mayListBucket {
            throw S3Error.accessDenied()
        }
        try access.authorize(object: reader.info)
        return reader
    }

    /// The access settings of a bucket (cached), or nil if it does not exist.
    func bucketSettings(_ name: String) async throws -> BucketSettings? {
        if let cached = settingsCache.get(name) { return cached }
        let generation = settingsCache.generation
        let loaded: (bucket: BucketInfo, configs: [BucketConfigName: [UInt8]])
        do {
            loaded = try await store.bucketWithConfigs(name)
        } catch let error as StoreError where error.code == .noSuchBucket {
            return nil
        }
        let access = try BucketSettings(bucket: loaded.bucket, configs: loaded.configs, defaultOwner: defaultOwner, users: users)
        settingsCache.insert(name, access, loadedAt: generation)
        return access
    }

    /// The owner of buckets created before owners were recorded: the root credentials.
    var defaultOwner: String { users.principals.first { $0.isRoot }?.canonicalId ?? Principal.anonymous.canonicalId }

    /// Stores a configuration document of the request's bucket (empty: removes it) and
    /// forgets the cached settings. Every configuration change goes through here.
    func storeBucketConfig(_ context: Context, name: BucketConfigName, document: [UInt8]) async throws {
        defer { settingsCache.invalidate(context.bucket) }
        try await store.putBucketConfig(bucket: context.bucket, name: name, document: document)
    }

    /// A stored configuration document as GET returns it (as stored: validated when PUT),
    /// or `missing` (S3's NoSuch… error) when the bucket has none.
    func storedConfigResponse(_ context: Context, name: BucketConfigName, missing: S3Error) async throws -> S3Response {
        guard let document = try await store.bucketConfig(bucket: context.bucket, name: name) else { throw missing }
        var response = S3Response.xml("")
        response.body = .bytes(ByteBuffer(bytes: document))
        return response
    }

    /// The bucket's settings as loaded for this request; NoSuchBucket if there is none.
    func requireBucket(_ context: Context) throws -> BucketSettings {
        guard let bucket = context.access.bucket else { throw S3Error.noSuchBucket(bucket: context.bucket) }
        return bucket
    }

    // MARK: - ACLs on new buckets and objects

    /// The ACL a new object gets from its request's `x-amz-acl` / `x-amz-grant-*`, encoded
    /// for ``ObjectInfo/acl``: empty when the bucket owner owns it with the default ACL
    /// (most objects, and every object while ACLs are disabled).
    func newObjectACL(_ context: Context) throws -> [UInt8] {
        let bucket = try requireBucket(context)
        let requested = try AccessControlList.fromHeaders({ context.request.header($0) }, owner: context.principal.canonicalId,
                                                           bucketOwner: bucket.owner, users: users)
        return try objectACL(requested: requested, cannedName: context.request.header("x-amz-acl"), principal: context.principal,
                             bucket: bucket)
    }

    /// The stored form of an object ACL a request asked for (nil: none asked), under the
    /// bucket's Object Ownership and Block Public Access settings.
    func objectACL(requested: AccessControlList?, cannedName: String?, principal: Principal, bucket: BucketSettings) throws -> [UInt8] {
        switch bucket.ownership {
        case .bucketOwnerEnforced:
            // Only bucket-owner-full-control (or an ACL equal to the default) may be sent.
            if let requested, cannedName != "bucket-owner-full-control", requested != .privateACL(owner: bucket.owner) {
                throw S3Error.accessControlListNotSupported()
            }
            return []
        case .bucketOwnerPreferred where cannedName == "bucket-owner-full-control":
            return []
        default:
            break
        }
        var acl = requested ?? .privateACL(owner: principal.isAnonymous ? bucket.owner : principal.canonicalId)
        if principal.isAnonymous { acl.owner = bucket.owner }
        if acl.isPublic && bucket.publicAccessBlock?.blockPublicAcls == true { throw S3Error.accessDenied() }
        return acl == .privateACL(owner: bucket.owner) ? [] : acl.encoded()
    }

    /// The creation attributes of a new bucket: its owner, and the ACL and Object
    /// Ownership its request asked for.
    func newBucketAttributes(_ context: Context) throws -> [String: String] {
        let request = context.request
        let owner = context.principal.canonicalId
        var attributes = [BucketSettings.Config.ownerAttribute: owner]
        var ownership: ObjectOwnership?
        if let text = request.header("x-amz-object-ownership") {
            guard let value = ObjectOwnership(rawValue: text) else {
                throw S3Error.invalidArgument("Invalid x-amz-object-ownership header", name: "x-amz-object-ownership", value: text)
            }
            ownership = value
            attributes[BucketSettings.Config.ownershipAttribute] = value.rawValue
        }
        if let acl = try AccessControlList.fromHeaders({ request.header($0) }, owner: owner, bucketOwner: nil, users: users),
           acl != .privateACL(owner: owner) {
            if ownership == .bucketOwnerEnforced { throw S3Error.invalidBucketAclWithObjectOwnership() }
            attributes[BucketSettings.Config.aclAttribute] = String(decoding: acl.encoded(), as: UTF8.self)
        }
        return attributes
    }

    // MARK: - Bucket ACL

    func getBucketAcl(_ context: Context) async throws -> S3Response {
        let bucket = try requireBucket(context)
        return .xml(bucket.aclsEnabled ? bucket.acl.render(users: users) : AccessControlList.privateACL(owner: bucket.owner).render(users: users))
    }

    func putBucketAcl(_ context: Context) async throws -> S3Response {
        let bucket = try requireBucket(context)
        let acl = try await requestedACL(context, owner: bucket.owner, bucketOwner: nil)
        if !bucket.aclsEnabled && acl != .privateACL(owner: bucket.owner) { throw S3Error.accessControlListNotSupported() }
        if acl.isPublic && bucket.publicAccessBlock?.blockPublicAcls == true { throw S3Error.accessDenied() }
        try await storeBucketConfig(context, name: .acl, document: acl.encoded())
        return S3Response()
    }

    /// The ACL of a PutBucketAcl / PutObjectAcl: from `x-amz-acl`, `x-amz-grant-*` or an
    /// AccessControlPolicy body, exactly one of them. The owner stays who it is.
    private func requestedACL(_ context: Context, owner: String, bucketOwner: String?) async throws -> AccessControlList {
        let document = try await readDocument(context, limit: 64 * 1024)
        let hasBody = !document.allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        let fromHeaders = try AccessControlList.fromHeaders({ context.request.header($0) }, owner: owner,
                                                           bucketOwner: bucketOwner, users: users)
        switch (fromHeaders, hasBody) {
        case (let acl?, false): return acl
        case (nil, true):
            var acl = try AccessControlList.parse(document, users: users)
            acl.owner = owner
            return acl
        case (_?, true):
            throw S3Error.invalidRequest("Specifying both an access control policy document and ACL headers is not allowed")
        case (nil, false):
            throw S3Error.malformedACLError()
        }
    }

    // MARK: - Object ACL

    /// The object version a sub-resource operation (ACL, tagging) addresses: `versionId`
    /// or the current one, read and authorized; and the requested id (nil: none asked).
    func addressedVersion(_ context: Context) async throws -> (versionID: String?, info: ObjectInfo) {
        let versionID = try Self.requestedVersion(context.request)
        let info = try await Self.mappingVersionErrors(key: context.key, versionId: versionID,
                                                       method: context.request.method.rawValue) {
            try await store.headObject(bucket: context.bucket, key: context.key, versionID: versionID)
        }
        try context.access.authorize(object: info)
        return (versionID, info)
    }

    func getObjectAcl(_ context: Context) async throws -> S3Response {
        let bucket = try requireBucket(context)
        let (versionID, info) = try await addressedVersion(context)
        var response = S3Response.xml(bucket.objectACL(info).render(users: users))
        Self.addVersionHeader(of: info, asked: versionID != nil, to: &response)
        return response
    }

    func putObjectAcl(_ context: Context) async throws -> S3Response {
        let bucket = try requireBucket(context)
        let (versionID, info) = try await addressedVersion(context)
        var response = S3Response()
        Self.addVersionHeader(of: info, asked: versionID != nil, to: &response)
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
        _ = try await Self.mappingVersionErrors(key: context.key, versionId: versionID, method: "PUT") {
            try await store.recommitVersion(bucket: context.bucket, key: context.key, versionID: versionID ?? info.versionID) { version in
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

    // MARK: - Bucket policy

    func getBucketPolicy(_ context: Context) async throws -> S3Response {
        _ = try requireBucket(context)
        guard let document = try await store.bucketConfig(bucket: context.bucket, name: .policy) else {
            throw S3Error.noSuchBucketPolicy(bucket: context.bucket)
        }
        var response = S3Response()
        response.headers.add(name: "Content-Type", value: "application/json")
        response.body = .bytes(ByteBuffer(bytes: document))
        return response
    }

    func putBucketPolicy(_ context: Context) async throws -> S3Response {
        let bucket = try requireBucket(context)
        let document = try await readDocument(context, limit: 4 * BucketPolicy.maxSize)
        let policy = try BucketPolicy.parse(document, bucket: context.bucket, users: users)
        if policy.isPublic && bucket.publicAccessBlock?.blockPublicPolicy == true { throw S3Error.accessDenied() }
        try await storeBucketConfig(context, name: .policy, document: document)
        return S3Response(status: .noContent)
    }

    func deleteBucketPolicy(_ context: Context) async throws -> S3Response {
        _ = try requireBucket(context)
        try await storeBucketConfig(context, name: .policy, document: [])
        return S3Response(status: .noContent)
    }

    func getBucketPolicyStatus(_ context: Context) async throws -> S3Response {
        let bucket = try requireBucket(context)
        guard let policy = bucket.policy else { throw S3Error.noSuchBucketPolicy(bucket: context.bucket) }
        var xml = XMLWriter()
        xml.open("PolicyStatus", namespace: s3Namespace)
        xml.element("IsPublic", policy.isPublic ? "true" : "false")
        xml.close()
        return .xml(xml)
    }

    // MARK: - Block Public Access

    func getPublicAccessBlock(_ context: Context) async throws -> S3Response {
        guard let block = try requireBucket(context).publicAccessBlock else {
            throw S3Error.noSuchPublicAccessBlockConfiguration(bucket: context.bucket)
        }
        return .xml(block.render())
    }

    func putPublicAccessBlock(_ context: Context) async throws -> S3Response {
        _ = try requireBucket(context)
        let block = try PublicAccessBlock.parse(try await readDocument(context, limit: 64 * 1024))
        try await storeBucketConfig(context, name: .publicAccessBlock, document: block.render().bytes)
        return S3Response()
    }

    func deletePublicAccessBlock(_ context: Context) async throws -> S3Response {
        _ = try requireBucket(context)
        try await storeBucketConfig(context, name: .publicAccessBlock, document: [])
        return S3Response(status: .noContent)
    }

    // MARK: - Object Ownership

    func getOwnershipControls(_ context: Context) async throws -> S3Response {
        guard let ownership = try requireBucket(context).ownership else {
            throw S3Error.ownershipControlsNotFoundError(bucket: context.bucket)
        }
        return .xml(ownership.render())
    }

    func putOwnershipControls(_ context: Context) async throws -> S3Response {
        let bucket = try requireBucket(context)
        let ownership = try ObjectOwnership.parse(try await readDocument(context, limit: 64 * 1024))
        // S3 refuses to disable ACLs while the bucket's ACL grants to anyone but its owner.
        if ownership == .bucketOwnerEnforced && bucket.acl != .privateACL(owner: bucket.owner) {
            throw S3Error.invalidBucketAclWithObjectOwnership()
        }
        try await storeBucketConfig(context, name: .ownershipControls, document: Array(ownership.rawValue.utf8))
        return S3Response()
    }

    func deleteOwnershipControls(_ context: Context) async throws -> S3Response {
        _ = try requireBucket(context)
        try await storeBucketConfig(context, name: .ownershipControls, document: [])
        return S3Response(status: .noContent)
    }
}
