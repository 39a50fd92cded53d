import Foundation

/// Signs an outgoing request with SigV4, for Strata's own clients: the header form for
/// `strata compact --server`, the query form (a presigned URL) for `StrataTesting`.
public struct SigV4Signer: Sendable {
    public var accessKey: String
    public var secretKey: String
    public var region: String

    public init(accessKey: String, secretKey: String, region: String) {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.region = region
    }

    /// The headers to send (`Host`, `x-amz-date`, `x-amz-content-sha256`,
    /// `Authorization`) for a request with `body`. `rawPath` and `rawQuery` are sent as given.
    public func headers(method: String, host: String, rawPath: String, rawQuery: String, body: [UInt8] = [],
                        now: Date = Date()) -> [(name: String, value: String)] {
        let seconds = Int64(now.timeIntervalSince1970)
        let timestamp = TimeFormat.iso8601Basic(seconds: seconds)
        let date = String(timestamp.prefix(8))
        let payloadHash = SigV4.sha256Hex(body)
        let headers: [(name: String, value: String)] = [("host", host), ("x-amz-content-sha256", payloadHash), ("x-amz-date", timestamp)]
        let signed = headers.map(\.name)
        let request = SigningRequest(method: method, rawPath: rawPath, rawQuery: rawQuery, headers: headers)
        let canonical = SigV4.canonicalRequest(method: method, canonicalURI: SigV4.canonicalURI(rawPath: rawPath),
                                               canonicalQuery: SigV4.canonicalQuery(rawQuery: rawQuery),
                                               canonicalHeaders: SigV4.canonicalHeaders(request, signedHeaders: signed).block,
                                               signedHeaders: signed, payloadHash: payloadHash)
        let scope = "\(date)/\(region)/s3/aws4_request"
        let key = SigV4.signingKey(secret: secretKey, date: date, region: region, service: "s3")
        let signature = SigV4.signature(signingKey: key, stringToSign: SigV4.stringToSign(timestamp: timestamp, scope: scope, canonicalRequest: canonical))
        return headers + [("Authorization", "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), SignedHeaders=\(signed.joined(separator: ";")), Signature=\(signature)")]
    }

    /// A presigned URL's query string (without the leading `?`) for `method` on `rawPath`
    /// at `host`, valid for `expires` seconds (AWS allows 1 to 604,800): the query form of
    /// SigV4 with an unsigned payload, which S3 accepts for any body.
    public func presignedQuery(method: String, host: String, rawPath: String, expires: Int, now: Date = Date()) -> String {
        let timestamp = TimeFormat.iso8601Basic(seconds: Int64(now.timeIntervalSince1970))
        let date = String(timestamp.prefix(8))
        let scope = "\(date)/\(region)/s3/aws4_request"
        let credential = SigV4.uriEncode(Array("\(accessKey)/\(scope)".utf8))
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=\(credential)&X-Amz-Date=\(timestamp)"
            + "&X-Amz-Expires=\(expires)&X-Amz-SignedHeaders=host"
        let request = SigningRequest(method: method, rawPath: rawPath, rawQuery: query, headers: [("host", host)])
        let canonical = SigV4.canonicalRequest(method: method, canonicalURI: SigV4.canonicalURI(rawPath: rawPath),
                                               canonicalQuery: SigV4.canonicalQuery(rawQuery: query),
                                               canonicalHeaders: SigV4.canonicalHeaders(request, signedHeaders: ["host"]).block,
                                               signedHeaders: ["host"], payloadHash: "UNSIGNED-PAYLOAD")
        let key = SigV4.signingKey(secret: secretKey, date: date, region: region, service: "s3")
        let signature = SigV4.signature(signingKey: key, stringToSign: SigV4.stringToSign(timestamp: timestamp, scope: scope, canonicalRequest: canonical))
        return query + "&X-Amz-Signature=\(signature)"
    }
}
