import Foundation

/// Signs an outgoing request with SigV4 (header form), for Strata's own clients such as
/// `strata compact --server`.
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
}
