@testable import S3Server

/// A request as ``TestSigner`` produced it, ready to send: the request-target (path and
/// query, percent-encoded), the header fields in the order to send them, and the body as
/// it goes on the wire (aws-chunked framing included, for streaming modes).
struct SignedRequest: Sendable {
    /// The HTTP method.
    var method: String
    /// The raw path, percent-encoded, no query.
    var path: String
    /// The raw query without `?`; empty when there is none.
    var query: String
    /// The header fields in order, `Authorization` included when header-signed.
    var headers: [(name: String, value: String)]
    /// The body bytes exactly as sent.
    var body: [UInt8]
    /// The SigV4 request signature (the aws-chunked seed), or the SigV2 base64 signature.
    var signature: String

    /// `path?query`, the request-target of the request line.
    var target: String { query.isEmpty ? path : path + "?" + query }

    /// The first value of the header `name` (case-insensitive).
    func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }

    /// The view the server's ``RequestAuthenticator`` takes, parsed from the request-target
    /// as the server will receive it.
    var signingRequest: SigningRequest {
        SigningRequest(method: method, uri: target, headers: headers)
    }

    /// The complete request as bytes on the wire: request line, headers, blank line, body.
    var wireBytes: [UInt8] {
        RawHTTPClient.head(method: method, path: target, headers: headers) + body
    }

    /// Replaces every value of header `name` (case-insensitive), or appends it. The
    /// signature is not recomputed: use this to tamper with a signed request.
    mutating func setHeader(_ name: String, _ value: String) {
        let lower = name.lowercased()
        headers.removeAll { $0.name.lowercased() == lower }
        headers.append((name, value))
    }
}

extension RawHTTPClient {
    /// Sends a signed request on this connection and reads the response.
    func send(_ request: SignedRequest) throws -> HTTPResponse {
        try self.request(method: request.method, path: request.target, headers: request.headers, body: request.body)
    }
}
