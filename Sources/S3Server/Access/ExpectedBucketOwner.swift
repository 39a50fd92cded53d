/// `x-amz-expected-bucket-owner`: a caller states whose bucket it means to address, so a
/// request never reaches a bucket of the same name that someone else owns (a bucket
/// deleted and re-created by another account, a mistyped name). When the stated owner is
/// not the bucket's, S3 answers 403 AccessDenied and does nothing.
/// `x-amz-source-expected-bucket-owner` does the same for the source bucket of
/// CopyObject and UploadPartCopy.
///
/// S3 compares the header with the owner's 12-digit account id, and so does Strata (the
/// account the users file gives the owner, or the one derived from its canonical id). It
/// also accepts the owner's canonical user id (the `Owner/ID` of ListBuckets and
/// GetBucketAcl), which is what it compared before users had accounts
/// (docs/S3-NOTES.md, "x-amz-expected-bucket-owner").
enum ExpectedBucketOwner {
    /// The header naming the owner of the request's bucket.
    static let header = "x-amz-expected-bucket-owner"
    /// The header naming the owner of a copy's source bucket.
    static let sourceHeader = "x-amz-source-expected-bucket-owner"

    /// Throws AccessDenied when `expected` is given and names neither the account of
    /// `owner` (a canonical id) nor `owner` itself.
    static func check(_ expected: String?, owner: String, users: UserDirectory) throws {
        guard let expected else { return }
        guard expected == users.accountId(canonicalId: owner) || expected == owner else { throw S3Error.accessDenied() }
    }
}

extension S3RequestHandler {
    /// Checks the request's `x-amz-expected-bucket-owner` against the owner of the bucket
    /// it names, before anything else is decided about it. A bucket that does not exist
    /// has no owner to compare: the operation answers for it (NoSuchBucket).
    func checkExpectedBucketOwner(_ request: S3Request) async throws {
        guard let expected = request.header(ExpectedBucketOwner.header), let name = request.bucket,
              let bucket = try await bucketSettings(name) else { return }
        try ExpectedBucketOwner.check(expected, owner: bucket.owner, users: users)
    }
}
