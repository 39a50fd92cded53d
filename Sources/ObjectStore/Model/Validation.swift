/// S3's naming rules, checked before anything is written.
enum Validation {
    /// Bucket names as S3 requires for new buckets: 3–63 characters of lowercase letters,
    /// digits, dots and hyphens, starting and ending with a letter or digit, no `..`,
    /// not formatted like an IPv4 address.
    static func checkBucketName(_ name: String) throws {
        let bytes = Array(name.utf8)
        func fail() -> StoreError { StoreError(.invalidBucketName, "The specified bucket is not valid: \(name)") }
        guard (3...63).contains(bytes.count) else { throw fail() }
        let allowed = { (c: UInt8) in (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2E || c == 0x2D }
        let alnum = { (c: UInt8) in (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        guard bytes.allSatisfy(allowed), alnum(bytes.first!), alnum(bytes.last!) else { throw fail() }
        guard !name.contains(".."), !name.contains(".-"), !name.contains("-.") else { throw fail() }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }) { throw fail() }
    }

    /// Object keys: 1–1024 bytes of UTF-8 (Swift strings are), no NUL (XML cannot carry it,
    /// and FORMAT.md's version keys use 0x00 as a separator).
    static func checkKey(_ key: String) throws {
        let count = key.utf8.count
        guard count > 0 else { throw StoreError(.invalidArgument, "Object key must not be empty") }
        guard count <= 1024 else { throw StoreError(.keyTooLong, "Your key is too long (\(count) bytes; the limit is 1024)") }
        guard !key.utf8.contains(0) else { throw StoreError(.invalidArgument, "Object key must not contain NUL") }
    }
}
