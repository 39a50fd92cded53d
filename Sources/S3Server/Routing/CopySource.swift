import ObjectStore

/// The `x-amz-copy-source` header: `bucket/key` or `/bucket/key`, URL-encoded, with an
/// optional `?versionId=`; a `+` in it is a literal plus (docs/S3-NOTES.md,
/// "x-amz-copy-source is URL-encoded").
struct CopySource {
    let bucket: String
    let key: String
    /// The source version (`?versionId=`), in the store's form (empty: the null version).
    let versionId: String?

    init(_ header: String) throws {
        var text = Substring(header)
        var versionId: String?
        if let q = text.firstIndex(of: "?") {
            let query = text[text.index(after: q)...]
            text = text[..<q]
            for item in query.split(separator: "&") where item.hasPrefix("versionId=") {
                // An id that does not decode is malformed, never absent (which would copy
                // the current version instead of the one asked for).
                guard let decoded = S3Request.percentDecode(item.dropFirst("versionId=".count), plusAsSpace: false) else {
                    throw S3Error.invalidArgument("Invalid version id specified", name: "x-amz-copy-source", value: header)
                }
                versionId = decoded
            }
        }
        guard let decoded = S3Request.percentDecode(text, plusAsSpace: false) else {
            throw S3Error.invalidArgument("Invalid copy source encoding", name: "x-amz-copy-source", value: header)
        }
        var path = Substring(decoded)
        if path.hasPrefix("/") { path = path.dropFirst() }
        guard let slash = path.firstIndex(of: "/"), slash != path.startIndex, path.index(after: slash) != path.endIndex else {
            throw S3Error.invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                                          name: "x-amz-copy-source", value: header)
        }
        if let versionId, !ObjectStore.isWellFormedVersionID(versionId) {
            throw S3Error.invalidArgument("Invalid version id specified", name: "x-amz-copy-source", value: header)
        }
        self.versionId = versionId.map { $0 == "null" ? "" : $0 }
        bucket = String(path[..<slash])
        guard (1...63).contains(bucket.utf8.count) else { throw S3Error.invalidBucketName(bucket: bucket) }
        key = String(path[path.index(after: slash)...])
    }
}
