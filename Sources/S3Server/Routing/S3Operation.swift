/// One S3 operation, as the router makes it of a signed request (``init(_:)`` in
/// S3Operation+Routing.swift), with its parameters parsed and validated: the handlers
/// get a bucket name, a key, an upload id or a listing's limits ready to use, and never
/// read them from the request themselves.
///
/// Two requests are not operations in this sense, because their credentials are not in
/// the usual places: a CORS preflight (``CORSPreflight``, unsigned) and a browser POST
/// upload (credentials in the form); ``S3RequestHandler`` answers them before routing.
enum S3Operation: Sendable {
    // MARK: Service
    case listBuckets(ListBucketsParameters)
    /// `POST /_strata/compact`: an operator's compaction run.
    case compact(CompactionParameters)
    /// `/_strata/faults`: the fault rules (``FaultRules``).
    case faults(FaultsRequest)
    /// `POST /_strata/reset`: empties the store.
    case reset
    /// `/_strata/snapshots`: the named snapshots (``SnapshotsRequest``).
    case snapshots(SnapshotsRequest)

    // MARK: Bucket
    case createBucket(bucket: String)
    case headBucket(bucket: String)
    case deleteBucket(bucket: String)
    case getBucketLocation(bucket: String)
    case listObjects(bucket: String, ListObjectsParameters)
    case listObjectsV2(bucket: String, ListObjectsV2Parameters)
    case listObjectVersions(bucket: String, ListVersionsParameters)
    case listMultipartUploads(bucket: String, ListUploadsParameters)
    case deleteObjects(bucket: String)

    // MARK: Bucket configurations
    case getBucketVersioning(bucket: String)
    case putBucketVersioning(bucket: String)
    case getBucketLifecycle(bucket: String)
    case putBucketLifecycle(bucket: String)
    case deleteBucketLifecycle(bucket: String)
    case getBucketTagging(bucket: String)
    case putBucketTagging(bucket: String)
    case deleteBucketTagging(bucket: String)
    case getBucketCors(bucket: String)
    case getBucketEncryption(bucket: String)
    case getObjectLockConfiguration(bucket: String)
    /// A bucket feature Strata keeps no state for, or only the document (accelerate,
    /// request payment): answered as an unconfigured AWS bucket answers (BucketFeatures.swift).
    case getBucketFeature(bucket: String, BucketFeature, id: String?)
    case putBucketFeature(bucket: String, BucketFeature)
    case deleteBucketFeature(bucket: String, BucketFeature)
    case putObjectLockConfiguration(bucket: String)
    case putBucketEncryption(bucket: String)
    case deleteBucketEncryption(bucket: String)
    case putBucketCors(bucket: String)
    case deleteBucketCors(bucket: String)
    case getBucketAcl(bucket: String)
    case putBucketAcl(bucket: String)
    case getBucketPolicy(bucket: String)
    case putBucketPolicy(bucket: String)
    case deleteBucketPolicy(bucket: String)
    case getBucketPolicyStatus(bucket: String)
    case getPublicAccessBlock(bucket: String)
    case putPublicAccessBlock(bucket: String)
    case deletePublicAccessBlock(bucket: String)
    case getOwnershipControls(bucket: String)
    case putOwnershipControls(bucket: String)
    case deleteOwnershipControls(bucket: String)

    // MARK: Object
    /// `partNumber`: `?partNumber=N`, one part of the object as a range.
    case getObject(ObjectAddress, partNumber: Int?)
    case headObject(ObjectAddress, partNumber: Int?)
    case putObject(ObjectAddress)
    case copyObject(ObjectAddress, source: CopySource)
    case deleteObject(ObjectAddress)
    case getObjectAcl(ObjectAddress)
    case putObjectAcl(ObjectAddress)
    case getObjectTagging(ObjectAddress)
    case getObjectRetention(ObjectAddress)
    case getObjectAttributes(ObjectAddress)
    case putObjectRetention(ObjectAddress)
    case getObjectLegalHold(ObjectAddress)
    case putObjectLegalHold(ObjectAddress)
    case putObjectTagging(ObjectAddress)
    case deleteObjectTagging(ObjectAddress)

    // MARK: Multipart upload
    case createMultipartUpload(ObjectAddress)
    case uploadPart(UploadAddress, partNumber: Int)
    case uploadPartCopy(UploadAddress, partNumber: Int, source: CopySource)
    case completeMultipartUpload(UploadAddress)
    case abortMultipartUpload(UploadAddress)
    case listParts(UploadAddress, ListPartsParameters)
}

/// The object an operation addresses.
struct ObjectAddress: Sendable, Equatable {
    let bucket: String
    let key: String
    /// `?versionId=` in the store's form (empty: the null version); nil when none was
    /// asked for. Validated on every object operation, used by those that address a
    /// version.
    let versionId: String?
}

/// The multipart upload an operation addresses.
struct UploadAddress: Sendable, Equatable {
    let bucket: String
    let key: String
    let uploadId: String
}

/// ListBuckets: `prefix`, `max-buckets`, `continuation-token`.
struct ListBucketsParameters: Sendable {
    var prefix: String
    /// Whether `prefix` was sent (the answer echoes it then).
    var prefixSent: Bool
    var maxBuckets: Int
    /// The bucket name the continuation token continues after.
    var after: String?
}

/// What ListObjects (v1 and v2) and ListObjectVersions share.
struct ListParameters: Sendable {
    var prefix: String
    var delimiter: String?
    var maxKeys: Int
    /// `encoding-type=url`.
    var urlEncode: Bool

    /// A key, prefix, delimiter or marker as the listing shows it: URL-encoded (slashes
    /// kept) under `encoding-type=url` (docs/S3-NOTES.md, "Listing XML and encoding-type=url").
    func show(_ text: String) -> String {
        urlEncode ? SigV4.uriEncode(Array(text.utf8), keepSlash: true) : text
    }
}

/// ListObjects (v1): the common parameters and `marker`.
struct ListObjectsParameters: Sendable {
    var list: ListParameters
    /// As sent (echoed in the answer).
    var marker: String?
}

/// ListObjectsV2: the common parameters, `continuation-token`, `start-after`, `fetch-owner`.
struct ListObjectsV2Parameters: Sendable {
    var list: ListParameters
    /// The token as sent (echoed in the answer).
    var continuationToken: String?
    var startAfter: String?
    var fetchOwner: Bool

    /// The key the page starts after: the token's, else `start-after`'s.
    var after: String?
}

/// ListObjectVersions: the common parameters, `key-marker` and `version-id-marker`
/// (empty when not sent).
struct ListVersionsParameters: Sendable {
    var list: ListParameters
    var keyMarker: String
    var versionIdMarker: String
}

/// ListMultipartUploads.
struct ListUploadsParameters: Sendable {
    var prefix: String
    var delimiter: String?
    var keyMarker: String?
    /// Only with `keyMarker` (S3 ignores it without).
    var uploadIdMarker: String?
    var maxUploads: Int
    var urlEncode: Bool

    /// As ``ListParameters/show(_:)``.
    func show(_ text: String) -> String {
        urlEncode ? SigV4.uriEncode(Array(text.utf8), keepSlash: true) : text
    }
}

/// ListParts: `max-parts` and `part-number-marker`.
struct ListPartsParameters: Sendable {
    var maxParts: Int
    var marker: Int
}

/// `POST /_strata/compact?threshold=0.5&segment=3,4&bandwidth=BYTES`; nil: the server's
/// default.
struct CompactionParameters: Sendable {
    var threshold: Double?
    var segments: [UInt64]?
    var bytesPerSecond: UInt64?
}

/// What a request to `/_strata/faults` asks: `GET` lists the rules, `PUT` replaces them
/// with the body's, `POST` adds the body's, `DELETE` clears them, `DELETE
/// /_strata/faults/ID` removes one.
enum FaultsRequest: Sendable, Equatable {
    case list, replace, add, clear
    case remove(id: String)
}

/// What a request to `/_strata/snapshots` asks: `GET` lists them, `POST
/// /_strata/snapshots/NAME` saves one, `POST /_strata/snapshots/NAME/restore` restores it,
/// `DELETE /_strata/snapshots/NAME` deletes it.
enum SnapshotsRequest: Sendable, Equatable {
    case list
    case save(name: String)
    case restore(name: String)
    case delete(name: String)
}

extension S3Operation {
    /// The operation's name in the access log and the metrics (`operation` label): the
    /// S3 API name.
    var name: String {
        switch self {
        case .listBuckets: return "ListBuckets"
        case .compact, .faults, .reset, .snapshots: return "Admin"
        case .createBucket: return "CreateBucket"
        case .headBucket: return "HeadBucket"
        case .deleteBucket: return "DeleteBucket"
        case .getBucketLocation: return "GetBucketLocation"
        case .listObjects: return "ListObjects"
        case .listObjectsV2: return "ListObjectsV2"
        case .listObjectVersions: return "ListObjectVersions"
        case .listMultipartUploads: return "ListMultipartUploads"
        case .deleteObjects: return "DeleteObjects"
        case .getBucketVersioning: return "GetBucketVersioning"
        case .putBucketVersioning: return "PutBucketVersioning"
        case .getBucketLifecycle: return "GetBucketLifecycleConfiguration"
        case .putBucketLifecycle: return "PutBucketLifecycleConfiguration"
        case .deleteBucketLifecycle: return "DeleteBucketLifecycle"
        case .getBucketTagging: return "GetBucketTagging"
        case .putBucketTagging: return "PutBucketTagging"
        case .deleteBucketTagging: return "DeleteBucketTagging"
        case .getBucketCors: return "GetBucketCors"
        case .getBucketEncryption: return "GetBucketEncryption"
        case .getObjectLockConfiguration: return "GetObjectLockConfiguration"
        case .getBucketFeature(_, let feature, let id): return feature.operationName(verb: id == nil && feature.isListed ? "List" : "Get")
        case .putBucketFeature(_, let feature): return feature.operationName(verb: "Put")
        case .deleteBucketFeature(_, let feature): return feature.operationName(verb: "Delete")
        case .putObjectLockConfiguration: return "PutObjectLockConfiguration"
        case .getObjectRetention: return "GetObjectRetention"
        case .getObjectAttributes: return "GetObjectAttributes"
        case .putObjectRetention: return "PutObjectRetention"
        case .getObjectLegalHold: return "GetObjectLegalHold"
        case .putObjectLegalHold: return "PutObjectLegalHold"
        case .putBucketEncryption: return "PutBucketEncryption"
        case .deleteBucketEncryption: return "DeleteBucketEncryption"
        case .putBucketCors: return "PutBucketCors"
        case .deleteBucketCors: return "DeleteBucketCors"
        case .getBucketAcl: return "GetBucketAcl"
        case .putBucketAcl: return "PutBucketAcl"
        case .getBucketPolicy: return "GetBucketPolicy"
        case .putBucketPolicy: return "PutBucketPolicy"
        case .deleteBucketPolicy: return "DeleteBucketPolicy"
        case .getBucketPolicyStatus: return "GetBucketPolicyStatus"
        case .getPublicAccessBlock: return "GetPublicAccessBlock"
        case .putPublicAccessBlock: return "PutPublicAccessBlock"
        case .deletePublicAccessBlock: return "DeletePublicAccessBlock"
        case .getOwnershipControls: return "GetBucketOwnershipControls"
        case .putOwnershipControls: return "PutBucketOwnershipControls"
        case .deleteOwnershipControls: return "DeleteBucketOwnershipControls"
        case .getObject: return "GetObject"
        case .headObject: return "HeadObject"
        case .putObject: return "PutObject"
        case .copyObject: return "CopyObject"
        case .deleteObject: return "DeleteObject"
        case .getObjectAcl: return "GetObjectAcl"
        case .putObjectAcl: return "PutObjectAcl"
        case .getObjectTagging: return "GetObjectTagging"
        case .putObjectTagging: return "PutObjectTagging"
        case .deleteObjectTagging: return "DeleteObjectTagging"
        case .createMultipartUpload: return "CreateMultipartUpload"
        case .uploadPart: return "UploadPart"
        case .uploadPartCopy: return "UploadPartCopy"
        case .completeMultipartUpload: return "CompleteMultipartUpload"
        case .abortMultipartUpload: return "AbortMultipartUpload"
        case .listParts: return "ListParts"
        }
    }

    /// Every S3 operation name ``name`` can be (`Admin` is not one): what a fault rule may
    /// name, so that a misspelt name is refused rather than never matching.
    static let s3Names: Set<String> = {
        var names: Set<String> = [
            "ListBuckets", "CreateBucket", "HeadBucket", "DeleteBucket", "GetBucketLocation", "ListObjects",
            "ListObjectsV2", "ListObjectVersions", "ListMultipartUploads", "DeleteObjects", "GetBucketVersioning",
            "PutBucketVersioning", "GetBucketLifecycleConfiguration", "PutBucketLifecycleConfiguration",
            "DeleteBucketLifecycle", "GetBucketTagging", "PutBucketTagging", "DeleteBucketTagging",
            "GetBucketCors", "GetBucketEncryption", "GetObjectLockConfiguration", "PutObjectLockConfiguration",
            "GetObjectRetention", "GetObjectAttributes", "PutObjectRetention", "GetObjectLegalHold",
            "PutObjectLegalHold", "PutBucketEncryption", "DeleteBucketEncryption", "PutBucketCors",
            "DeleteBucketCors", "GetBucketAcl", "PutBucketAcl", "GetBucketPolicy", "PutBucketPolicy",
            "DeleteBucketPolicy", "GetBucketPolicyStatus", "GetPublicAccessBlock", "PutPublicAccessBlock",
            "DeletePublicAccessBlock", "GetBucketOwnershipControls", "PutBucketOwnershipControls",
            "DeleteBucketOwnershipControls", "GetObject", "HeadObject", "PutObject", "CopyObject", "DeleteObject",
            "GetObjectAcl", "PutObjectAcl", "GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging",
            "CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload",
            "AbortMultipartUpload", "ListParts"
        ]
        for feature in BucketFeature.allCases {
            for verb in ["Get", "Put", "Delete"] + (feature.isListed ? ["List"] : []) {
                names.insert(feature.operationName(verb: verb))
            }
        }
        return names
    }()

    /// Who may call it: the IAM action a bucket policy sees and what grants it without
    /// one (see ``AccessRule``). Object actions take their `…Version…` form when a version
    /// is addressed.
    var accessRule: AccessRule {
        switch self {
        case .listBuckets: return .authenticated("s3:ListAllMyBuckets")
        case .compact, .faults, .reset, .snapshots: return .handler("strata:Admin")
        case .createBucket: return .authenticated("s3:CreateBucket")
        case .headBucket, .listObjects, .listObjectsV2: return .bucket("s3:ListBucket", .read)
        case .deleteBucket: return .bucketOwner("s3:DeleteBucket")
        case .getBucketLocation: return .bucketOwner("s3:GetBucketLocation")
        case .listObjectVersions: return .bucket("s3:ListBucketVersions", .read)
        case .listMultipartUploads: return .bucket("s3:ListBucketMultipartUploads", .read)
        // Each key is authorized on its own.
        case .deleteObjects: return .handler("s3:DeleteObject")
        case .getBucketVersioning: return .bucketOwner("s3:GetBucketVersioning")
        case .putBucketVersioning: return .bucketOwner("s3:PutBucketVersioning")
        case .getBucketLifecycle: return .bucketOwner("s3:GetLifecycleConfiguration")
        case .putBucketLifecycle, .deleteBucketLifecycle: return .bucketOwner("s3:PutLifecycleConfiguration")
        case .getBucketTagging: return .bucketOwner("s3:GetBucketTagging")
        case .putBucketTagging, .deleteBucketTagging: return .bucketOwner("s3:PutBucketTagging")
        case .getBucketCors: return .bucketOwner("s3:GetBucketCORS")
        case .getBucketEncryption: return .bucketOwner("s3:GetEncryptionConfiguration")
        case .getObjectLockConfiguration: return .bucketOwner("s3:GetBucketObjectLockConfiguration")
        case .getBucketFeature(_, let feature, _): return .bucketOwner(feature.readAction)
        case .putBucketFeature(_, let feature), .deleteBucketFeature(_, let feature): return .bucketOwner(feature.writeAction)
        case .putObjectLockConfiguration: return .bucketOwner("s3:PutBucketObjectLockConfiguration")
        case .getObjectAttributes(let object):
            return AccessRule.object("s3:GetObjectAttributes", .read).forVersion(object.versionId != nil)
        case .getObjectRetention(let object):
            return AccessRule.object("s3:GetObjectRetention", .read).forVersion(object.versionId != nil)
        case .putObjectRetention(let object):
            return AccessRule.objectOwner("s3:PutObjectRetention").forVersion(object.versionId != nil)
        case .getObjectLegalHold(let object):
            return AccessRule.object("s3:GetObjectLegalHold", .read).forVersion(object.versionId != nil)
        case .putObjectLegalHold(let object):
            return AccessRule.objectOwner("s3:PutObjectLegalHold").forVersion(object.versionId != nil)
        case .putBucketEncryption, .deleteBucketEncryption: return .bucketOwner("s3:PutEncryptionConfiguration")
        case .putBucketCors, .deleteBucketCors: return .bucketOwner("s3:PutBucketCORS")
        case .getBucketAcl: return .bucket("s3:GetBucketAcl", .readACP)
        case .putBucketAcl: return .bucket("s3:PutBucketAcl", .writeACP)
        case .getBucketPolicy: return .bucketOwnerOnly("s3:GetBucketPolicy")
        case .putBucketPolicy: return .bucketOwnerOnly("s3:PutBucketPolicy")
        case .deleteBucketPolicy: return .bucketOwnerOnly("s3:DeleteBucketPolicy")
        case .getBucketPolicyStatus: return .bucketOwnerOnly("s3:GetBucketPolicyStatus")
        case .getPublicAccessBlock: return .bucketOwnerOnly("s3:GetBucketPublicAccessBlock")
        case .putPublicAccessBlock, .deletePublicAccessBlock: return .bucketOwnerOnly("s3:PutBucketPublicAccessBlock")
        case .getOwnershipControls: return .bucketOwnerOnly("s3:GetBucketOwnershipControls")
        case .putOwnershipControls, .deleteOwnershipControls: return .bucketOwnerOnly("s3:PutBucketOwnershipControls")
        case .getObject(let object, _), .headObject(let object, _):
            return AccessRule.object("s3:GetObject", .read).forVersion(object.versionId != nil)
        // CopyObject and UploadPartCopy also need s3:GetObject on their source, checked
        // when they read it.
        case .putObject, .copyObject, .createMultipartUpload, .uploadPart, .uploadPartCopy, .completeMultipartUpload:
            return .bucket("s3:PutObject", .write)
        case .deleteObject(let object):
            return AccessRule.bucket("s3:DeleteObject", .write).forVersion(object.versionId != nil)
        case .getObjectAcl(let object):
            return AccessRule.object("s3:GetObjectAcl", .readACP).forVersion(object.versionId != nil)
        case .putObjectAcl(let object):
            return AccessRule.object("s3:PutObjectAcl", .writeACP).forVersion(object.versionId != nil)
        case .getObjectTagging(let object):
            return AccessRule.object("s3:GetObjectTagging", .read).forVersion(object.versionId != nil)
        case .putObjectTagging(let object):
            return AccessRule.objectOwner("s3:PutObjectTagging").forVersion(object.versionId != nil)
        case .deleteObjectTagging(let object):
            return AccessRule.objectOwner("s3:DeleteObjectTagging").forVersion(object.versionId != nil)
        case .abortMultipartUpload: return .uploadParty("s3:AbortMultipartUpload")
        case .listParts: return .uploadParty("s3:ListMultipartUploadParts")
        }
    }
}
