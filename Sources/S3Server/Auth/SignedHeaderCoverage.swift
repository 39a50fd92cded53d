/// The headers a SigV4 signature must cover, as S3 requires: `host` always, and every
/// `x-amz-*` header the request carries, whether the signature is in the `Authorization`
/// header (`SignedHeaders`) or in a presigned URL (`X-Amz-SignedHeaders`).
///
/// A header outside the signature is one its signer never saw. An unsigned `Host` lets a
/// signature made for one virtual-hosted bucket (`a.DOMAIN`) be replayed on another
/// (`b.DOMAIN`, same path); an unsigned `x-amz-copy-source` turns a signed or presigned
/// PUT into a copy of anything the signer may read; an unsigned `x-amz-acl` or
/// `x-amz-tagging` changes what a presigned upload stores. S3 refuses all of these with
/// 403 AccessDenied, naming the headers in `HeadersNotSigned`.
///
/// The one exception is `x-amz-content-sha256`: its value is the payload hash the
/// canonical request ends with, so the signature covers it whether or not it is listed,
/// and S3 accepts it unlisted.
enum SignedHeaderCoverage {
    /// Throws ``S3Error/headersNotSigned(_:)`` naming, in request order, `host` if it is not
    /// in `signedHeaders` and every `x-amz-*` header of the request that is not.
    static func check(_ request: SigningRequest, signedHeaders: [String]) throws {
        var unsigned: [String] = []
        if !signedHeaders.contains("host") { unsigned.append("host") }
        for field in request.headers where isAmzHeader(field.name) {
            let name = field.name.lowercased()
            if name == "x-amz-content-sha256" || signedHeaders.contains(name) || unsigned.contains(name) { continue }
            unsigned.append(name)
        }
        if !unsigned.isEmpty { throw S3Error.headersNotSigned(unsigned) }
    }

    /// Whether a header name starts with `x-amz-`, in any case (`x-amzn-trace-id` does not).
    static func isAmzHeader(_ name: String) -> Bool {
        let prefix = "x-amz-".utf8
        guard name.utf8.count > prefix.count else { return false }
        return zip(name.utf8, prefix).allSatisfy { c, p in c == p || (c | 0x20) == p }
    }
}
