/// The bucket-name prefixes and suffixes S3 keeps for itself, on top of the general naming
/// rules (length, characters, no IP address form; checked by the store). S3 uses them for
/// internationalised domain names (`xn--`), its own infrastructure (`sthree-`), the names of
/// its documentation examples (`amzn-s3-demo-`), access point aliases (`-s3alias`, and
/// `--ol-s3` for Object Lambda), Multi-Region Access Points (`.mrap`), directory buckets
/// (`--x-s3`) and table buckets (`--table-s3`). CreateBucket refuses such a name with
/// 400 InvalidBucketName, as S3 does for a general purpose bucket.
enum ReservedBucketNames {
    static let prefixes = ["xn--", "sthree-", "amzn-s3-demo-"]
    static let suffixes = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]

    /// Whether `name` starts or ends with a reserved affix.
    static func isReserved(_ name: String) -> Bool {
        prefixes.contains { name.hasPrefix($0) } || suffixes.contains { name.hasSuffix($0) }
    }

    /// Throws InvalidBucketName for a name S3 would not let a new bucket have.
    static func checkNewBucket(_ name: String) throws {
        if isReserved(name) { throw S3Error.invalidBucketName(bucket: name) }
    }
}
