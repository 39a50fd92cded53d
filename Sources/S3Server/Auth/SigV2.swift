import Crypto
import Foundation

/// AWS Signature Version 2 for S3 (RESTAuthentication): HMAC-SHA1 over
/// `METHOD\nContent-MD5\nContent-Type\nDate-or-Expires\n{x-amz- headers}{resource}`.
///
/// Still produced by `aws s3 presign` in CLI v1, `s3cmd signurl` and old SDKs.
public enum SigV2 {
    /// The query parameters S3 includes in the canonicalized resource (the list botocore
    /// signs; the S3 docs list a subset).
    static let subResources: Set<String> = [
        "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory",
        "lifecycle", "location", "logging", "metrics", "notification", "object-lock", "partNumber",
        "policy", "replication", "requestPayment", "response-cache-control",
        "response-content-disposition", "response-content-encoding", "response-content-language",
        "response-content-type", "response-expires", "restore", "select", "select-type",
        "storageClass", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning",
        "versions", "website",
    ]

    /// The CanonicalizedResource: `/bucket` (virtual-hosted only) + the raw path + the sorted
    /// sub-resources with their decoded values.
    public static func canonicalizedResource(rawPath: String, rawQuery: String, virtualHostedBucket: String?) -> String {
        var resource = ""
        if let bucket = virtualHostedBucket { resource += "/" + bucket }
        resource += rawPath.isEmpty ? "/" : rawPath
        var items: [(String, String?)] = []
        for part in rawQuery.split(separator: "&", omittingEmptySubsequences: true) {
            let hasValue = part.contains("=")
            let (name, value) = SigV4.splitPair(part)
            let decodedName = SigV4.percentDecodedString(name, plusAsSpace: false)
            guard subResources.contains(decodedName) else { continue }
            items.append((decodedName, hasValue ? SigV4.percentDecodedString(value, plusAsSpace: false) : nil))
        }
        items.sort { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }
        if !items.isEmpty {
            resource += "?" + items.map { item in item.1.map { "\(item.0)=\($0)" } ?? item.0 }.joined(separator: "&")
        }
        return resource
    }

    /// The CanonicalizedAmzHeaders: every `x-amz-*` header (plus, for presigned URLs,
    /// `x-amz-*` query parameters), lowercased, sorted, values trimmed and joined by `,`,
    /// each line ending in `\n`.
    public static func canonicalizedAmzHeaders(_ headers: [(name: String, value: String)]) -> String {
        var grouped: [String: [String]] = [:]
        for (name, value) in headers {
            let lower = name.lowercased()
            guard lower.hasPrefix("x-amz-") else { continue }
            grouped[lower, default: []].append(String(value.trimmingSpaces()))
        }
        return grouped.keys.sorted().map { "\($0):\(grouped[$0]!.joined(separator: ","))\n" }.joined()
    }

    /// The full string to sign. `dateOrExpires` is the Date (or x-amz-date → empty Date)
    /// for header auth, or the `Expires` value for presigned URLs.
    public static func stringToSign(method: String, contentMD5: String, contentType: String, dateOrExpires: String,
                                    amzHeaders: String, resource: String) -> String {
        "\(method)\n\(contentMD5)\n\(contentType)\n\(dateOrExpires)\n\(amzHeaders)\(resource)"
    }

    /// The base64 HMAC-SHA1 of the string to sign.
    public static func signature(secret: String, stringToSign: String) -> String {
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Array(stringToSign.utf8),
                                                         using: SymmetricKey(data: Array(secret.utf8)))
        return Data(mac).base64EncodedString()
    }
}
