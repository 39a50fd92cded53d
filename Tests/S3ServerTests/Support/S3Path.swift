/// Request paths as the AWS SDKs write them for path-style S3 requests.
enum S3Path {
    /// `/bucket/key` with the key percent-encoded the way the SDKs do: RFC 3986 unreserved
    /// characters (`A-Za-z0-9-_.~`) and `/` kept, every other byte of the UTF-8 key as
    /// `%XY` (uppercase). `+` becomes `%2B`, a space `%20`. With no key (or an empty one),
    /// `/bucket`.
    static func encode(bucket: String, key: String? = nil) -> String {
        guard let key, !key.isEmpty else { return "/" + encodeSegment(bucket) }
        return "/" + encodeSegment(bucket) + "/" + encodeKey(key)
    }

    /// The key alone, percent-encoded with `/` kept.
    static func encodeKey(_ key: String) -> String {
        key.split(separator: "/", omittingEmptySubsequences: false).map { encodeSegment(String($0)) }
            .joined(separator: "/")
    }

    /// One segment (or a query name or value): everything but unreserved characters encoded.
    static func encodeSegment(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0xF)])
            }
        }
        return out
    }
}
