import Foundation
import ObjectStore

/// S3 Object Ownership (PutBucketOwnershipControls).
enum ObjectOwnership: String, Sendable, CaseIterable {
    /// ACLs are disabled: the bucket owner owns every object; only policies grant access.
    case bucketOwnerEnforced = "BucketOwnerEnforced"
    /// Objects written with `bucket-owner-full-control` become the bucket owner's.
    case bucketOwnerPreferred = "BucketOwnerPreferred"
    /// The writer owns what it writes (S3's behaviour before April 2023, and Strata's
    /// default for buckets without ownership controls).
    case objectWriter = "ObjectWriter"

    /// Parses an OwnershipControls document.
    static func parse(_ bytes: [UInt8]) throws -> ObjectOwnership {
        let root = try XMLTree.parseDocument(bytes, root: "OwnershipControls")
        let rules = root.children("Rule")
        guard rules.count == 1, let text = rules[0].child("ObjectOwnership")?.text.trimmingCharacters(in: .whitespacesAndNewlines),
              let value = ObjectOwnership(rawValue: text) else { throw S3Error.malformedXML }
        return value
    }

    func render() -> XMLWriter {
        var xml = XMLWriter()
        xml.open("OwnershipControls", namespace: s3Namespace)
        xml.element("Rule") { $0.element("ObjectOwnership", rawValue) }
        xml.close()
        return xml
    }
}

/// S3 Block Public Access for one bucket (PutPublicAccessBlock).
struct PublicAccessBlock: Sendable, Equatable {
    /// PUTs of public ACLs are refused.
    var blockPublicAcls = false
    /// Grants to AllUsers / AuthenticatedUsers are ignored.
    var ignorePublicAcls = false
    /// PutBucketPolicy of a public policy is refused.
    var blockPublicPolicy = false
    /// A public policy then only lets the bucket owner in.
    var restrictPublicBuckets = false

    static func parse(_ bytes: [UInt8]) throws -> PublicAccessBlock {
        let root = try XMLTree.parseDocument(bytes, root: "PublicAccessBlockConfiguration")
        func flag(_ name: String) throws -> Bool {
            guard let text = root.child(name)?.text.trimmingCharacters(in: .whitespacesAndNewlines) else { return false }
            switch text.lowercased() {
            case "true": return true
            case "false": return false
            default: throw S3Error.malformedXML
            }
        }
        return PublicAccessBlock(blockPublicAcls: try flag("BlockPublicAcls"), ignorePublicAcls: try flag("IgnorePublicAcls"),
                                 blockPublicPolicy: try flag("BlockPublicPolicy"),
                                 restrictPublicBuckets: try flag("RestrictPublicBuckets"))
    }

    func render() -> XMLWriter {
        var xml = XMLWriter()
        xml.open("PublicAccessBlockConfiguration", namespace: s3Namespace)
        xml.element("BlockPublicAcls", blockPublicAcls ? "true" : "false")
        xml.element("IgnorePublicAcls", ignorePublicAcls ? "true" : "false")
        xml.element("BlockPublicPolicy", blockPublicPolicy ? "true" : "false")
        xml.element("RestrictPublicBuckets", restrictPublicBuckets ? "true" : "false")
        xml.close()
        return xml
    }
}

/// A bucket's settings as requests consult them: who may do what (owner, ACL, policy,
/// Block Public Access, Object Ownership), and the parsed lifecycle and CORS
/// configurations that shape responses. Loaded in one read and cached
/// (``BucketSettingsCache``).
struct BucketSettings: Sendable {
    /// Names of the creation attributes that hold these settings (the configurations
    /// are ``BucketConfigName``s).
    enum Config {
        /// Creation attributes: the creator's canonical id, and the ACL and ownership it
        /// asked for (later changes go to the configurations, which take precedence).
        static let ownerAttribute = "owner"
        static let aclAttribute = "acl"
        static let ownershipAttribute = "objectOwnership"
    }

    var owner: String
    var acl: AccessControlList
    var policy: BucketPolicy?
    var publicAccessBlock: PublicAccessBlock?
    /// nil: never set (behaves as ObjectWriter; GetBucketOwnershipControls answers 404).
    var ownership: ObjectOwnership?
    /// The lifecycle configuration (`x-amz-expiration` on responses).
    var lifecycle: LifecycleConfiguration?
    /// The CORS configuration (preflights, CORS headers on responses).
    var cors: CORSConfiguration?
    /// The default encryption of writes without encryption headers.
    var encryption: BucketEncryption?
    /// Object Lock: on when the bucket was created with it or configured later (for good).
    var objectLockEnabled: Bool
    /// The Object Lock configuration (its default retention), when one was PUT.
    var objectLock: ObjectLockConfiguration?

    /// The region the bucket was created in (its `region` attribute), if recorded.
    var region: String?
    /// The bucket's versioning state.
    var versioning: BucketVersioning

    var aclsEnabled: Bool { ownership != .bucketOwnerEnforced }

    /// Builds the settings from the bucket and its stored configurations. A bucket made
    /// before owners were recorded belongs to `defaultOwner` (the root credentials).
    /// `configs` holds removed configurations as empty documents: a removed
    /// configuration also hides the creation attribute it replaced.
    init(bucket: BucketInfo, configs: [BucketConfigName: [UInt8]], defaultOwner: String, users: UserDirectory) throws {
        func present(_ name: BucketConfigName) -> [UInt8]? { configs[name].flatMap { $0.isEmpty ? nil : $0 } }
        owner = bucket.attributes[Config.ownerAttribute] ?? defaultOwner
        region = bucket.attributes["region"]
        versioning = BucketVersioning(document: present(.versioning))
        let aclBytes = configs[.acl] ?? bucket.attributes[Config.aclAttribute].map { Array($0.utf8) }
        acl = aclBytes.flatMap(AccessControlList.decode) ?? .privateACL(owner: owner)
        // Stored policies were valid when PUT; one naming a user since removed from the
        // users file still loads (that principal matches nobody).
        policy = try present(.policy).map { try BucketPolicy.parse($0, bucket: bucket.name, users: users, strict: false) }
        publicAccessBlock = try present(.publicAccessBlock).map { try PublicAccessBlock.parse($0) }
        let ownershipText = configs[.ownershipControls].map { String(decoding: $0, as: UTF8.self) }
            ?? bucket.attributes[Config.ownershipAttribute]
        ownership = ownershipText.flatMap(ObjectOwnership.init(rawValue:))
        // Both were validated when PUT.
        lifecycle = present(.lifecycle).flatMap { try? LifecycleConfiguration.parse($0) }
        cors = present(.cors).flatMap { try? CORSConfiguration.parse($0) }
        encryption = present(.encryption).flatMap { try? BucketEncryption.parse($0) }
        objectLock = present(.objectLock).flatMap { try? ObjectLockConfiguration.parse($0) }
        objectLockEnabled = objectLock != nil || bucket.attributes[BucketInfo.objectLockAttribute] == "Enabled"
        // A bucket created with Object Lock is versioned from its creation record on.
        if objectLockEnabled && present(.versioning) == nil { versioning = .enabled }
    }

    /// The ACL an object is judged by: none of its own when ACLs are disabled (the bucket
    /// owner has full control) or when it stored none (written by the bucket owner).
    func objectACL(_ info: ObjectInfo) -> AccessControlList {
        guard aclsEnabled, let acl = AccessControlList.decode(info.acl) else { return .privateACL(owner: owner) }
        return acl
    }

    /// The owner of an object (listings, GetObjectAcl).
    func objectOwner(_ info: ObjectInfo) -> String { owner(ofACL: info.acl) }

    /// The owner of an object stored with the encoded ACL `acl` (an upload's object too).
    func owner(ofACL acl: [UInt8]) -> String {
        guard aclsEnabled, let decoded = AccessControlList.decode(acl) else { return owner }
        return decoded.owner
    }
}
