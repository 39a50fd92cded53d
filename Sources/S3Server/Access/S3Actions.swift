/// The S3 actions a policy can name (`s3:GetObject`, …), and which of them act on objects.
enum S3Actions {
    /// Actions on objects: their policy resource is `arn:aws:s3:::bucket/key`.
    static let objectLevel: Set<String> = [
        "s3:AbortMultipartUpload", "s3:DeleteObject", "s3:DeleteObjectTagging", "s3:DeleteObjectVersion",
        "s3:DeleteObjectVersionTagging", "s3:GetObject", "s3:GetObjectAcl", "s3:GetObjectAttributes",
        "s3:GetObjectLegalHold", "s3:GetObjectRetention", "s3:GetObjectTagging", "s3:GetObjectTorrent",
        "s3:GetObjectVersion", "s3:GetObjectVersionAcl", "s3:GetObjectVersionAttributes",
        "s3:GetObjectVersionTagging", "s3:GetObjectVersionTorrent", "s3:ListMultipartUploadParts",
        "s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectLegalHold", "s3:PutObjectRetention", "s3:PutObjectTagging",
        "s3:PutObjectVersionAcl", "s3:PutObjectVersionTagging", "s3:RestoreObject", "s3:BypassGovernanceRetention",
        "s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags", "s3:ObjectOwnerOverrideToBucketOwner",
    ]

    /// Actions on buckets: their resource is `arn:aws:s3:::bucket`.
    static let bucketLevel: Set<String> = [
        "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:ListBucketVersions",
        "s3:ListBucketMultipartUploads", "s3:GetBucketLocation", "s3:GetBucketAcl", "s3:PutBucketAcl",
        "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketPolicyStatus",
        "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock", "s3:GetBucketOwnershipControls",
        "s3:PutBucketOwnershipControls", "s3:GetBucketVersioning", "s3:PutBucketVersioning",
        "s3:GetBucketTagging", "s3:PutBucketTagging", "s3:GetBucketCORS", "s3:PutBucketCORS",
        "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration", "s3:GetBucketWebsite",
        "s3:PutBucketWebsite", "s3:DeleteBucketWebsite", "s3:GetBucketLogging", "s3:PutBucketLogging",
        "s3:GetBucketNotification", "s3:PutBucketNotification", "s3:GetEncryptionConfiguration",
        "s3:PutEncryptionConfiguration", "s3:GetReplicationConfiguration", "s3:PutReplicationConfiguration",
        "s3:GetBucketObjectLockConfiguration", "s3:PutBucketObjectLockConfiguration",
        "s3:GetAccelerateConfiguration", "s3:PutAccelerateConfiguration", "s3:GetBucketRequestPayment",
        "s3:PutBucketRequestPayment", "s3:GetAnalyticsConfiguration", "s3:PutAnalyticsConfiguration",
        "s3:GetInventoryConfiguration", "s3:PutInventoryConfiguration", "s3:GetMetricsConfiguration",
        "s3:PutMetricsConfiguration", "s3:GetIntelligentTieringConfiguration",
        "s3:PutIntelligentTieringConfiguration", "s3:ListBucketByTags",
    ]

    /// Account-level actions (resource `*`).
    static let serviceLevel: Set<String> = ["s3:ListAllMyBuckets"]

    static let all: [String] = Array(objectLevel) + Array(bucketLevel) + Array(serviceLevel)
}
