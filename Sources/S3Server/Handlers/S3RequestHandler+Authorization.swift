import Foundation
import NIOCore
import ObjectStore

/// Authorization: the access decision of a request (and of the further targets some
/// operations touch), the bucket settings it rests on, and the ACLs new buckets and
/// objects get. The operations that change these settings are the bucket's
/// configurations and the object's ACL.
extension S3RequestHandler {
    // MARK: - Deciding

    /// Applies `rule` to `requester` acting on `bucket` (and `key`) before the operation
    /// runs: AccessDenied unless the caller may go on. Object operations are decided for
    /// good once the object is read (``RequestAccess/authorize(object:)``). A missing
    /// bucket is left to the operation, which answers NoSuchBucket (as S3 does, to
    /// anonymous callers too).
    func authorize(_ rule: AccessRule, bucket name: String?, key: String?, _ requester: Requester) async throws -> RequestAccess {
        let principal = requester.principal
        func keys(_ bucket: BucketSettings) -> [String: [String]] {
            var keys = ConditionKeys.of(requester, secure: configuration.tls != nil)
            // S3 matches a policy's KMS key id against the key's ARN (in the bucket owner's
            // account, as the write resolves it), whatever form the request named it in (a
            // key the list lacks keeps the form sent; the write fails anyway).
            if let named = keys[ConditionKeys.kmsKeyID]?.first, let arn = try? kmsKeyARN(named, settings: bucket) {
                keys[ConditionKeys.kmsKeyID] = [arn]
            }
            return keys
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
                                   keys: bucket.policy == nil ? [:] : keys(bucket), policyDecision: .none)
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
                throw S3Error.methodNotAllowed(method: requester.request.method.rawValue, resourceType: "BUCKETPOLICY")
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
        try await authorize(rule, bucket: name, key: key, Requester(request: context.request, principal: context.principal,
                                                                    auth: context.auth, remoteAddress: context.remoteAddress,
                                                                    now: Date()))
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
        // An encrypted source opens with its key: SSE-C's from the copy-source headers.
        let key = try objectKey(for: reader.info, context.request.headers, prefix: CustomerKey.copySourcePrefix,
                                remoteAddress: context.remoteAddress).key
        return key.map { reader.opened(with: $0) } ?? reader
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

    /// The bucket's settings as loaded for this request; NoSuchBucket if there is none.
    func requireBucket(_ name: String, _ context: Context) throws -> BucketSettings {
        guard let bucket = context.access.bucket else { throw S3Error.noSuchBucket(bucket: name) }
        return bucket
    }

    // MARK: - ACLs on new buckets and objects

    /// The ACL a new object gets from its request's `x-amz-acl` / `x-amz-grant-*`, encoded
    /// for ``ObjectInfo/acl``: empty when the bucket owner owns it with the default ACL
    /// (most objects, and every object while ACLs are disabled).
    func newObjectACL(bucket name: String, _ context: Context) throws -> [UInt8] {
        let bucket = try requireBucket(name, context)
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

    // MARK: - ACLs of existing buckets and objects

    /// The ACL of a PutBucketAcl / PutObjectAcl: from `x-amz-acl`, `x-amz-grant-*` or an
    /// AccessControlPolicy body, exactly one of them. The owner stays who it is.
    func requestedACL(_ context: Context, owner: String, bucketOwner: String?) async throws -> AccessControlList {
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
}
