import SegmentLog

/// What the store knows about one object version. Encoded as the payload of its
/// `putObject` commit record, and stored (after a small prefix) as its index value.
public struct ObjectInfo: Sendable, Equatable {
    public var bucket: String
    public var key: String
    /// Empty for the `null` version (unversioned buckets).
    public var versionID: String
    public var size: UInt64
    /// Milliseconds since 1970.
    public var lastModified: Int64
    /// Hex MD5 (single part) or the multipart form `…-N`, without quotes.
    public var etag: String
    /// Stored headers: `content-type`, `content-encoding`, …, and `x-amz-meta-*`, names lowercase.
    public var metadata: [String: String]
    /// Checksums by algorithm name (`CRC32`, `SHA256`, …), base64 as S3 returns them.
    public var checksums: [String: String]
    /// Encoded ACL (empty: the default, owner full control).
    public var acl: [UInt8]
    /// Sizes of the parts of a multipart object; empty for single-part objects.
    public var partSizes: [UInt64]
    /// Where the bytes live, in order.
    public var extents: [Extent]
    /// The commit's sequence number (0 until committed).
    public internal(set) var sequence: UInt64 = 0
    /// For CompleteMultipartUpload's commit: the upload it closes (extension field 1).
    var completesUpload: String?
    /// For a multipart object: each part's checksums (by wire name, base64), in part
    /// order, so GET/HEAD with `partNumber` can return them (extension field 2).
    public var partChecksums: [[String: String]] = []
    /// A delete marker (versioned buckets): a version without bytes that says "deleted"
    /// (extension field 3). Size 0, no extents, no ETag.
    public var isDeleteMarker = false
    /// For a metadata-only re-commit of a version (``ObjectStore/recommitVersion``): the
    /// sequence that orders the version among the key's versions, its first commit's
    /// (extension field 4). Nil: the commit's own sequence.
    public internal(set) var versionSequence: UInt64?

    /// The sequence that orders this version among the key's versions (newest first).
    public var orderSequence: UInt64 { versionSequence ?? sequence }
    /// Object tags (PutObjectTagging, `x-amz-tagging`), key → value; they belong to this
    /// version (extension field 5).
    public var tags: [String: String] = [:]
    /// How the version is encrypted at rest; nil: stored as sent (extension field 6).
    /// ``size`` and ``partSizes`` count plaintext bytes; ``extents`` hold the sealed ones.
    public var encryption: ObjectEncryption?
    /// Object Lock retention and legal hold of this version (extension field 7); nil: none.
    public var lock: ObjectLock?
    /// Extension fields this build does not know (tag → bytes), kept so that an entry
    /// re-encoded here (a tag or ACL change) does not drop what a newer version wrote.
    var unknownExtensions: [UInt16: [UInt8]] = [:]

    public init(bucket: String, key: String, versionID: String = "", size: UInt64, lastModified: Int64,
                etag: String, metadata: [String: String] = [:], checksums: [String: String] = [:],
                acl: [UInt8] = [], partSizes: [UInt64] = [], extents: [Extent]) {
        self.bucket = bucket
        self.key = key
        self.versionID = versionID
        self.size = size
        self.lastModified = lastModified
        self.etag = etag
        self.metadata = metadata
        self.checksums = checksums
        self.acl = acl
        self.partSizes = partSizes
        self.extents = extents
    }
}

/// What the store knows about a bucket.
public struct BucketInfo: Sendable, Equatable {
    public var name: String
    /// Milliseconds since 1970.
    public var created: Int64
    /// Attributes such as `region`.
    public var attributes: [String: String]
    public internal(set) var sequence: UInt64 = 0

    /// The creation attribute (`Enabled`) of a bucket created with Object Lock
    /// (`x-amz-bucket-object-lock-enabled`): its versioning is Enabled from the creation
    /// record on, and Object Lock on for good, with no second commit to lose in a crash.
    public static let objectLockAttribute = "objectLock"

    public init(name: String, created: Int64, attributes: [String: String] = [:]) {
        self.name = name
        self.created = created
        self.attributes = attributes
    }
}

/// An in-progress multipart upload.
public struct UploadInfo: Sendable, Equatable {
    public var bucket: String
    public var key: String
    /// Opaque id: 12 hex digits of the creation time in ms, then 8 random hex digits, so
    /// ids sort by initiation (ListMultipartUploads order) and fit an LMDB key after a
    /// long-form object name.
    public var uploadId: String
    /// Milliseconds since 1970.
    public var initiated: Int64
    /// Headers stored with the object at completion, as for a PUT.
    public var metadata: [String: String]
    /// `x-amz-checksum-algorithm` given at creation (wire name, e.g. `CRC32`), if any.
    public var checksumAlgorithm: String?
    /// `COMPOSITE` or `FULL_OBJECT` when checksumAlgorithm is set.
    public var checksumType: String?
    /// The encoded ACL the object gets at completion (``ObjectInfo/acl``).
    public var acl: [UInt8] = []
    /// The canonical id of whoever started the upload (ListMultipartUploads' Initiator).
    public var initiator: String?
    /// Tags given at creation (`x-amz-tagging`), set on the object at completion
    /// (extension field 1 of the createUpload payload).
    public var tags: [String: String]
    /// The encryption every part is sealed with and the object gets (no salts: each part
    /// brings its own) (extension field 2 of the createUpload payload).
    public var encryption: ObjectEncryption?
    /// The Object Lock the completed object gets (extension field 3 of the createUpload payload).
    public var lock: ObjectLock?

    public init(bucket: String, key: String, uploadId: String, initiated: Int64, metadata: [String: String],
                checksumAlgorithm: String?, checksumType: String?, tags: [String: String] = [:]) {
        self.tags = tags
        self.bucket = bucket
        self.key = key
        self.uploadId = uploadId
        self.initiated = initiated
        self.metadata = metadata
        self.checksumAlgorithm = checksumAlgorithm
        self.checksumType = checksumType
    }
}

/// One uploaded part.
public struct PartInfo: Sendable, Equatable {
    public var partNumber: Int
    public var size: UInt64
    public var lastModified: Int64
    /// Hex MD5 of the part, unquoted.
    public var etag: String
    /// Checksums by wire name (`CRC32`, …), base64.
    public var checksums: [String: String]
    /// Where the part's bytes live, in order.
    public var extents: [Extent]
    /// The part's commit sequence number.
    public internal(set) var sequence: UInt64 = 0
    var uploadId: String = ""
    /// For a part of an encrypted upload: the salt of its sealed stream (extension field 1
    /// of the putPart payload).
    public var salt: [UInt8]?
}

/// The names of bucket configurations (FORMAT.md, "Payload encodings", bucket
/// configuration): every name the store and the S3 front write or look up.
///
/// An enum so that a name cannot be misspelled and every kind of configuration is listed
/// in one place. The raw values are written into bucketConfig records and `configs` keys:
/// they are on disk and must not change.
public enum BucketConfigName: String, CaseIterable, Sendable {
    /// The versioning status text, `Enabled` or `Suspended` (``BucketVersioning``).
    case versioning
    /// The LifecycleConfiguration XML document as the client sent it.
    case lifecycle
    /// The CORSConfiguration XML document as the client sent it.
    case cors
    /// A `<Tagging>` document, as GetBucketTagging returns it.
    case tagging
    /// The bucket's ACL text (replaces the creation attribute `acl`).
    case acl
    /// The bucket policy JSON as PUT.
    case policy
    /// The PublicAccessBlockConfiguration XML as GET returns it.
    case publicAccessBlock
    /// The Object Ownership setting: `BucketOwnerEnforced`, `BucketOwnerPreferred` or `ObjectWriter`.
    case ownershipControls
    /// The ServerSideEncryptionConfiguration XML (the bucket's default encryption), as GET returns it.
    case encryption
    /// The ObjectLockConfiguration XML as GET returns it (`ObjectLockEnabled` and any
    /// default retention). Present: Object Lock is on for the bucket, for good.
    case objectLock
    /// The AccelerateConfiguration XML as GET returns it.
    case accelerate
    /// The RequestPaymentConfiguration XML as GET returns it.
    case requestPayment
}
