import Foundation

extension ChecksumHasher {
    /// S3's COMPOSITE checksum of a multipart object: the checksum (same algorithm) of the
    /// concatenated binary part checksums, base64-encoded, followed by `-N` for N parts.
    ///
    /// This is what GetObject/HeadObject return as `x-amz-checksum-*` for a multipart
    /// object uploaded with CRC32, CRC32C, SHA1 or SHA256 part checksums.
    public static func compositeChecksum(algorithm: ChecksumAlgorithm, partDigests: [[UInt8]]) -> String {
        var hasher = ChecksumHasher(algorithm)
        for part in partDigests { hasher.update(part) }
        return "\(hasher.finalizeBase64())-\(partDigests.count)"
    }
}
