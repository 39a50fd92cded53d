import Foundation
import ObjectStore

/// Who makes a request and how: what an access decision looks at besides the rule and
/// the target (the principal, how it signed, and the condition keys' sources).
struct Requester: Sendable {
    let request: S3Request
    let principal: Principal
    let auth: AuthenticatedRequest
    /// The client's IP address, when known (`aws:SourceIp`).
    let remoteAddress: String?
    /// When the request is decided (`aws:CurrentTime`).
    let now: Date
    /// A browser POST upload's form fields, which stand for its headers (`acl` for
    /// x-amz-acl, `tagging` for x-amz-tagging); nil for any other request.
    var formFields: [String: String]? = nil
}

/// What an operation needs to be allowed: its IAM action (for bucket policies) and what
/// grants it without a policy (ownership or an ACL permission).
struct AccessRule: Sendable {
    enum Need: Sendable, Equatable {
        /// The handler decides (and must call ``S3RequestHandler/authorize``): per key in
        /// DeleteObjects, by the form's signature in a POST upload, none for a CORS preflight.
        case handler
        /// Any signed request (ListBuckets, CreateBucket).
        case authenticated
        /// The bucket owner, unless the bucket policy allows it.
        case bucketOwner
        /// The bucket owner only, whatever the policy allows (the policy itself, Block
        /// Public Access, Object Ownership: S3 keeps them with the owner's account).
        /// An explicit Deny still applies (``RequestAccess`` exempts the owner for the
        /// policy operations).
        case bucketOwnerOnly
        /// The bucket owner or the multipart upload's initiator (AbortMultipartUpload,
        /// ListParts), or the policy; decided when the handler has read the upload
        /// (``RequestAccess/authorize(uploadInitiator:)``).
        case uploadParty
        /// The bucket owner, or an ACL grant of this permission on the bucket.
        case bucket(AccessControlList.Permission)
        /// The object owner, or an ACL grant of this permission on the object; decided
        /// when the handler has read the object (``RequestAccess/authorize(object:)``).
        case object(AccessControlList.Permission)
        /// The object's owner only (object tagging).
        case objectOwner
    }

    var action: String
    var need: Need

    static func handler(_ action: String) -> AccessRule { AccessRule(action: action, need: .handler) }
    static func authenticated(_ action: String) -> AccessRule { AccessRule(action: action, need: .authenticated) }
    static func bucketOwner(_ action: String) -> AccessRule { AccessRule(action: action, need: .bucketOwner) }
    static func bucketOwnerOnly(_ action: String) -> AccessRule { AccessRule(action: action, need: .bucketOwnerOnly) }
    static func uploadParty(_ action: String) -> AccessRule { AccessRule(action: action, need: .uploadParty) }
    static func bucket(_ action: String, _ permission: AccessControlList.Permission) -> AccessRule {
        AccessRule(action: action, need: .bucket(permission))
    }
    static func object(_ action: String, _ permission: AccessControlList.Permission) -> AccessRule {
        AccessRule(action: action, need: .object(permission))
    }
    static func objectOwner(_ action: String) -> AccessRule { AccessRule(action: action, need: .objectOwner) }

    /// Whether the decision waits for the object's ACL.
    var needsObject: Bool {
        switch need {
        case .object, .objectOwner: return true
        default: return false
        }
    }

    /// With `?versionId=`, S3 checks the `…Version…` form of object actions.
    func forVersion(_ hasVersionId: Bool) -> AccessRule {
        guard hasVersionId, let versioned = Self.versionActions[action] else { return self }
        return AccessRule(action: versioned, need: need)
    }

    private static let versionActions: [String: String] = [
        "s3:GetObject": "s3:GetObjectVersion", "s3:DeleteObject": "s3:DeleteObjectVersion",
        "s3:GetObjectAcl": "s3:GetObjectVersionAcl", "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
        "s3:GetObjectTagging": "s3:GetObjectVersionTagging", "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
        "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
        "s3:GetObjectAttributes": "s3:GetObjectVersionAttributes",
    ]
}

/// The access decision of one request, in two steps for object operations: the bucket
/// policy is applied before the handler runs (an explicit Deny stops it there), and the
/// object's ACL once the handler has read the object.
struct RequestAccess: Sendable {
    let principal: Principal
    let rule: AccessRule
    /// nil when the bucket does not exist (the handler answers NoSuchBucket) or the
    /// operation needs none.
    let bucket: BucketSettings?
    let resource: String
    let keys: [String: [String]]
    /// The policy's verdict: `.allow` settles the object step too.
    let policyDecision: BucketPolicy.Decision

    /// Whether the policy or the bucket's ACL and ownership allow `rule` before any object
    /// is read. For object needs this is only the policy's word (`.none` = ask the object).
    static func decide(principal: Principal, rule: AccessRule, bucket: BucketSettings, resource: String,
                       keys: [String: [String]]) -> BucketPolicy.Decision {
        var decision = bucket.policy?.evaluate(principal: principal, action: rule.action, resource: resource, keys: keys) ?? .none
        // Block Public Access, RestrictPublicBuckets: a public policy admits only the
        // bucket owner's account.
        if decision == .allow, bucket.publicAccessBlock?.restrictPublicBuckets == true, bucket.policy?.isPublic == true,
           principal.canonicalId != bucket.owner || principal.isAnonymous {
            decision = .none
        }
        let isOwner = !principal.isAnonymous && principal.canonicalId == bucket.owner
        if rule.need == .bucketOwnerOnly {
            return decision == .deny ? .deny : (isOwner ? .allow : .deny)
        }
        if decision != .none { return decision }
        let ignorePublic = bucket.publicAccessBlock?.ignorePublicAcls == true
        switch rule.need {
        case .handler, .authenticated: return .allow
        case .bucketOwner, .bucketOwnerOnly: return isOwner ? .allow : .deny
        case .bucket(let permission):
            if isOwner { return .allow }
            // S3's ACL mapping: WRITE gives s3:DeleteObjectVersion to the bucket owner only.
            if rule.action == "s3:DeleteObjectVersion" { return .deny }
            return bucket.aclsEnabled && bucket.acl.allows(principal, permission, ignoringPublicGrants: ignorePublic) ? .allow : .deny
        case .object, .objectOwner, .uploadParty: return isOwner && rule.need == .uploadParty ? .allow : .none
        }
    }

    /// The object step: the object owner, or an ACL grant on the object (ACLs enabled),
    /// unless the policy already decided. A policy's Allow counts only for objects the
    /// bucket owner owns (S3: a bucket policy cannot grant access to other accounts'
    /// objects); its Deny counts for all. Throws AccessDenied.
    func authorize(object info: ObjectInfo) throws {
        guard rule.needsObject else { return }
        // The bucket did not exist when the request began: nothing was granted.
        guard let bucket else { throw S3Error.accessDenied() }
        var decision = policyDecision
        if bucket.policy?.usesExistingObjectTags == true {
            // s3:ExistingObjectTag/KEY: the object's tags are known now.
            var withTags = keys
            for (key, value) in info.tags { withTags["s3:existingobjecttag/\(key.lowercased())"] = [value] }
            decision = Self.decide(principal: principal, rule: rule, bucket: bucket, resource: resource, keys: withTags)
        }
        guard decision != .deny else { throw S3Error.accessDenied() }
        let acl = bucket.objectACL(info)
        if decision == .allow && acl.owner == bucket.owner { return }
        let isOwner = !principal.isAnonymous && principal.canonicalId == acl.owner
        let ignorePublic = bucket.publicAccessBlock?.ignorePublicAcls == true
        switch rule.need {
        case .object(let permission):
            // The owner may always read and change the ACL (S3 keeps owners from locking
            // themselves out); the data needs a grant, which a new object's owner has.
            if isOwner && (permission == .readACP || permission == .writeACP) { return }
            if acl.allows(principal, permission, ignoringPublicGrants: ignorePublic) { return }
        case .objectOwner:
            if isOwner { return }
        default: return
        }
        throw S3Error.accessDenied()
    }

    /// The upload step of AbortMultipartUpload and ListParts: the bucket owner, the
    /// upload's initiator, or the policy. Throws AccessDenied.
    func authorize(uploadInitiator: String?) throws {
        guard rule.need == .uploadParty else { return }
        guard let bucket else { throw S3Error.accessDenied() }
        if policyDecision == .allow { return }
        let me = principal.isAnonymous ? nil : principal.canonicalId
        if me != nil && (me == bucket.owner || me == uploadInitiator) { return }
        throw S3Error.accessDenied()
    }

    /// Whether the caller could list the bucket where the key asked for is: S3 answers a
    /// GET or HEAD of a missing key with 404 only then, and with 403 otherwise (so keys
    /// cannot be probed). As S3 decides it: ListBucket with `s3:prefix` set to the key, so
    /// a policy allowing listings of `public/*` makes a missing `public/x` a 404.
    var mayListBucket: Bool {
        guard let bucket else { return true }
        let list = AccessRule.bucket("s3:ListBucket", .read)
        let path = resource.dropFirst("arn:aws:s3:::".count)
        let bucketName = path.prefix { $0 != "/" }
        var listKeys = keys
        if bucketName.endIndex < path.endIndex { listKeys["s3:prefix"] = [String(path[path.index(after: bucketName.endIndex)...])] }
        return Self.decide(principal: principal, rule: list, bucket: bucket, resource: "arn:aws:s3:::\(bucketName)",
                           keys: listKeys) == .allow
    }
}

/// The condition keys of a request (lowercased names), for bucket policies.
enum ConditionKeys {
    /// The `s3:` keys S3 defines (a policy naming another is MalformedPolicy); `aws:` keys
    /// are global and not checked here (an unknown one is simply absent).
    static let s3Keys: Set<String> = [
        "s3:prefix", "s3:delimiter", "s3:max-keys", "s3:versionid", "s3:x-amz-acl", "s3:x-amz-copy-source",
        "s3:x-amz-metadata-directive", "s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "s3:x-amz-server-side-encryption-customer-algorithm",
        "s3:x-amz-storage-class", "s3:x-amz-content-sha256", "s3:x-amz-grant-read", "s3:x-amz-grant-write",
        "s3:x-amz-grant-read-acp", "s3:x-amz-grant-write-acp", "s3:x-amz-grant-full-control", "s3:x-amz-object-ownership",
        "s3:x-amz-tagging", "s3:signatureversion", "s3:authtype", "s3:signatureage", "s3:tlsversion",
        "s3:requestobjecttagkeys", "s3:locationconstraint", "s3:x-amz-website-redirect-location",
        "s3:object-lock-mode", "s3:object-lock-retain-until-date", "s3:object-lock-remaining-retention-days",
        "s3:object-lock-legal-hold", "s3:resourceaccount", "s3:dataaccesspointaccount", "s3:dataaccesspointarn",
        "s3:accesspointnetworkorigin", "s3:objectcreationoperation", "s3:if-match", "s3:if-none-match",
    ]

    /// The condition key of the KMS key a write names (its ARN once resolved).
    static let kmsKeyID = "s3:x-amz-server-side-encryption-aws-kms-key-id"

    static func isKnown(_ key: String) -> Bool {
        let lowered = key.lowercased()
        guard lowered.hasPrefix("s3:") else { return true }
        return s3Keys.contains(lowered) || lowered.hasPrefix("s3:existingobjecttag/") || lowered.hasPrefix("s3:requestobjecttag/")
    }

    /// The condition keys of `requester`'s request; `secure`: whether it came over TLS.
    static func of(_ requester: Requester, secure: Bool) -> [String: [String]] {
        let request = requester.request, principal = requester.principal, now = requester.now
        func header(_ name: String) -> String? {
            guard let formFields = requester.formFields else { return request.header(name) }
            switch name {
            case "x-amz-acl": return formFields["acl"]
            case "x-amz-tagging": return formFields["tagging"]
            default: return formFields[name]
            }
        }
        var keys: [String: [String]] = [
            "aws:securetransport": [secure ? "true" : "false"],
            "aws:currenttime": [TimeFormat.iso8601(milliseconds: Int64(now.timeIntervalSince1970 * 1000))],
            "aws:epochtime": [String(Int64(now.timeIntervalSince1970))],
            "aws:principaltype": [principal.isAnonymous ? "Anonymous" : (principal.isRoot ? "Account" : "User")],
        ]
        if !principal.isAnonymous {
            keys["aws:userid"] = [principal.canonicalId]
            keys["aws:username"] = [principal.displayName]
            keys["aws:principalaccount"] = [principal.accountId]
        }
        if let remoteAddress = requester.remoteAddress { keys["aws:sourceip"] = [remoteAddress] }
        if let agent = request.header("user-agent") { keys["aws:useragent"] = [agent] }
        if let referer = request.header("referer") { keys["aws:referer"] = [referer] }
        switch requester.auth.method {
        case .sigV4Header: keys["s3:signatureversion"] = ["AWS4-HMAC-SHA256"]; keys["s3:authtype"] = ["REST-HEADER"]
        case .sigV4Presigned: keys["s3:signatureversion"] = ["AWS4-HMAC-SHA256"]; keys["s3:authtype"] = ["REST-QUERY-STRING"]
        case .sigV2Header: keys["s3:signatureversion"] = ["AWS"]; keys["s3:authtype"] = ["REST-HEADER"]
        case .sigV2Presigned: keys["s3:signatureversion"] = ["AWS"]; keys["s3:authtype"] = ["REST-QUERY-STRING"]
        case .browserForm: keys["s3:authtype"] = ["POST"]
        case .anonymous: break
        }
        // s3:RequestObjectTag/KEY and s3:RequestObjectTagKeys, from the tags a write asks for.
        if let tagging = header("x-amz-tagging"), let tags = try? TagSet.parseHeader(tagging).tags {
            for (key, value) in tags { keys["s3:requestobjecttag/\(key.lowercased())"] = [value] }
            keys["s3:requestobjecttagkeys"] = tags.keys.sorted()
        }
        for name in ["prefix", "delimiter", "max-keys", "versionId"] {
            if let value = request.query(name) { keys["s3:\(name.lowercased())"] = [value] }
        }
        for name in ["x-amz-acl", "x-amz-copy-source", "x-amz-metadata-directive", "x-amz-server-side-encryption",
                       "x-amz-server-side-encryption-aws-kms-key-id", "x-amz-server-side-encryption-customer-algorithm",
                       "x-amz-storage-class", "x-amz-content-sha256", "x-amz-grant-read", "x-amz-grant-write",
                       "x-amz-grant-read-acp", "x-amz-grant-write-acp", "x-amz-grant-full-control",
                       "x-amz-object-ownership", "x-amz-tagging"] {
            if let value = header(name) { keys["s3:\(name)"] = [value] }
        }
        return keys
    }
}
