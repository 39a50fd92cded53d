import Foundation
@testable import S3Server

/// Signs requests the way the AWS SDKs do, so protocol tests can talk to the server as a
/// real client would: SigV4 header auth (signed payload, `UNSIGNED-PAYLOAD`, the three
/// aws-chunked streaming modes), SigV4 presigned URLs, and SigV2 header and presigned auth.
///
/// The canonical request, canonical query, chunk and trailer strings to sign and SigV2
/// string to sign are built here, independently of the server's code; only the HMAC key
/// derivation and the final HMACs come from `S3Server` (``SigV4/signingKey(secret:date:region:service:)``,
/// ``SigV4/signature(signingKey:stringToSign:)``, ``SigV2/signature(secret:stringToSign:)``).
///
/// `now` is the client's clock, so a test can sign with a skewed one.
struct TestSigner: Sendable {
    /// How the body is carried and covered by the signature (`x-amz-content-sha256`).
    enum Payload: Sendable {
        /// The hex SHA-256 of the body.
        case signed
        /// `UNSIGNED-PAYLOAD`.
        case unsigned
        /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked, each chunk signed.
        case streamingSigned(chunkSize: Int = 65_536)
        /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` with a trailing checksum, as boto3 ≥ 1.36
        /// and AWS CLI ≥ 2.23 send uploads.
        case streamingUnsignedTrailer(chunkSize: Int = 65_536, checksum: ChecksumAlgorithm = .crc32)
        /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks, a trailing checksum
        /// and `x-amz-trailer-signature`.
        case streamingSignedTrailer(chunkSize: Int = 65_536, checksum: ChecksumAlgorithm = .crc32)

        /// The `x-amz-content-sha256` value for `body`.
        func contentSHA256(body: [UInt8]) -> String {
            switch self {
            case .signed: return TestSigner.sha256Hex(body)
            case .unsigned: return "UNSIGNED-PAYLOAD"
            case .streamingSigned: return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
            case .streamingUnsignedTrailer: return "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
            case .streamingSignedTrailer: return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
            }
        }
    }

    /// Headers the SDKs leave out of SigV4 signatures (botocore's blacklist, plus the
    /// signature itself).
    static let unsignedHeaderNames: Set<String> = ["authorization", "expect", "transfer-encoding", "user-agent", "x-amzn-trace-id"]

    /// The access key id.
    var accessKey: String
    /// The secret access key.
    var secret: String
    /// The signing region.
    var region: String = "us-east-1"
    /// The signing service.
    var service: String = "s3"
    /// The client clock.
    var now: Date = Date()
    /// The Host header value, exactly as sent: `127.0.0.1:PORT`.
    var host: String

    /// Creates a signer.
    init(accessKey: String, secret: String, region: String = "us-east-1", now: Date = Date(), host: String) {
        self.accessKey = accessKey
        self.secret = secret
        self.region = region
        self.now = now
        self.host = host
    }

    /// `yyyyMMdd'T'HHmmss'Z'` of ``now``.
    var timestamp: String { AmzDate.formatISO8601Basic(Int64(now.timeIntervalSince1970.rounded(.down))) }
    /// `yyyyMMdd` of ``now``.
    var date: String { String(timestamp.prefix(8)) }
    /// `date/region/service/aws4_request`.
    var scope: String { "\(date)/\(region)/\(service)/aws4_request" }
    /// The derived SigV4 signing key.
    var signingKey: [UInt8] { SigV4.signingKey(secret: secret, date: date, region: region, service: service) }

    // MARK: SigV4 header auth

    /// Signs a request with `Authorization: AWS4-HMAC-SHA256 …`.
    ///
    /// Sends `Host` first, then `headers`, then `x-amz-date`, `x-amz-content-sha256` and,
    /// for streaming modes, `Content-Encoding: aws-chunked`, `x-amz-decoded-content-length`,
    /// `x-amz-trailer`; then `Content-Length` (of the encoded body) unless `headers` has
    /// one or the body is empty on a method other than PUT/POST. Every header except
    /// ``unsignedHeaderNames`` is signed. For streaming modes the returned body is the
    /// aws-chunked encoding of `body`.
    ///
    /// - Parameters:
    ///   - path: the raw path, already percent-encoded (see ``S3Path``).
    ///   - query: query items in order; a nil value is sent as a bare name (`?uploads`).
    func sign(method: String, path: String, query: [(name: String, value: String?)] = [],
              headers: [(name: String, value: String)] = [], body: [UInt8] = [],
              payload: Payload = .signed) -> SignedRequest {
        let contentSHA = payload.contentSHA256(body: body)
        var all: [(name: String, value: String)] = [("Host", host)] + headers
        all.append(("x-amz-date", timestamp))
        all.append(("x-amz-content-sha256", contentSHA))

        var chunkSize = 0
        var trailer: ChecksumAlgorithm?
        var chunkSigned = false
        switch payload {
        case .signed, .unsigned: break
        case .streamingSigned(let size): chunkSize = size; chunkSigned = true
        case .streamingUnsignedTrailer(let size, let checksum): chunkSize = size; trailer = checksum
        case .streamingSignedTrailer(let size, let checksum): chunkSize = size; trailer = checksum; chunkSigned = true
        }
        let isStreaming = chunkSize > 0
        if isStreaming {
            if let index = all.firstIndex(where: { $0.name.lowercased() == "content-encoding" }) {
                all[index].value = "aws-chunked," + all[index].value
            } else {
                all.append(("Content-Encoding", "aws-chunked"))
            }
            all.append(("x-amz-decoded-content-length", String(body.count)))
            if let trailer { all.append(("x-amz-trailer", trailer.headerName)) }
        }
        // The encoded length is known before signing: chunk signatures have a fixed width.
        let trailers = trailer.map { [($0.headerName, Self.checksumBase64($0, of: body))] } ?? []
        let encodedLength = isStreaming
            ? Self.awsChunkedLength(payloadLength: body.count, chunkSize: chunkSize, signed: chunkSigned, trailers: trailers)
            : body.count
        if !all.contains(where: { $0.name.lowercased() == "content-length" }),
           encodedLength > 0 || method == "PUT" || method == "POST" {
            all.append(("Content-Length", String(encodedLength)))
        }

        let rawQuery = Self.rawQuery(query)
        let signed = Self.signedHeaderNames(all)
        let canonical = Self.canonicalRequest(method: method, path: path, canonicalQuery: Self.canonicalQuery(query),
                                              headers: all, signedHeaders: signed, payloadHash: contentSHA)
        let key = signingKey
        let signature = SigV4.signature(signingKey: key, stringToSign: stringToSign(canonicalRequest: canonical))
        all.append(("Authorization",
                    "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), SignedHeaders=\(signed.joined(separator: ";")), Signature=\(signature)"))

        var wireBody = body
        if isStreaming {
            wireBody = awsChunkedBody(body, chunkSize: chunkSize,
                                      seedSignature: chunkSigned ? signature : nil, trailers: trailers)
            precondition(wireBody.count == encodedLength)
        }
        return SignedRequest(method: method, path: path, query: rawQuery, headers: all, body: wireBody, signature: signature)
    }

    /// The SigV4 string to sign for a canonical request at ``now``.
    func stringToSign(canonicalRequest: String) -> String {
        "AWS4-HMAC-SHA256\n\(timestamp)\n\(scope)\n\(Self.sha256Hex(Array(canonicalRequest.utf8)))"
    }

    // MARK: aws-chunked

    /// Encodes `payload` as an aws-chunked body: `chunkSize`-byte chunks (the last one
    /// shorter), the zero-length final chunk, then `trailers` (if any) and the blank line.
    ///
    /// With a `seedSignature` every chunk carries `;chunk-signature=` chained from it and,
    /// when there are trailers, `x-amz-trailer-signature` follows them. Without one the
    /// chunks are bare (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`). Tests that need a broken
    /// body build one from this and change bytes.
    func awsChunkedBody(_ payload: [UInt8], chunkSize: Int, seedSignature: String?,
                        trailers: [(name: String, value: String)] = []) -> [UInt8] {
        precondition(chunkSize > 0)
        var out: [UInt8] = []
        var previous = seedSignature ?? ""
        var offset = 0
        func appendChunk(_ data: ArraySlice<UInt8>) {
            var line = String(data.count, radix: 16)
            if seedSignature != nil {
                let sts = "AWS4-HMAC-SHA256-PAYLOAD\n\(timestamp)\n\(scope)\n\(previous)\n\(Self.sha256Hex([]))\n\(Self.sha256Hex(Array(data)))"
                previous = SigV4.signature(signingKey: signingKey, stringToSign: sts)
                line += ";chunk-signature=" + previous
            }
            out += Array((line + "\r\n").utf8)
            if !data.isEmpty { out += data + Array("\r\n".utf8) }
        }
        while offset < payload.count {
            let end = min(payload.count, offset + chunkSize)
            appendChunk(payload[offset..<end])
            offset = end
        }
        appendChunk([])
        for (name, value) in trailers { out += Array("\(name):\(value)\r\n".utf8) }
        if seedSignature != nil, !trailers.isEmpty {
            let canonical = trailers.map { "\($0.name.lowercased()):\($0.value)\n" }.joined()
            let sts = "AWS4-HMAC-SHA256-TRAILER\n\(timestamp)\n\(scope)\n\(previous)\n\(Self.sha256Hex(Array(canonical.utf8)))"
            out += Array("x-amz-trailer-signature:\(SigV4.signature(signingKey: signingKey, stringToSign: sts))\r\n".utf8)
        }
        out += Array("\r\n".utf8)
        return out
    }

    /// The byte length of ``awsChunkedBody(_:chunkSize:seedSignature:trailers:)``'s result.
    static func awsChunkedLength(payloadLength: Int, chunkSize: Int, signed: Bool,
                                 trailers: [(name: String, value: String)]) -> Int {
        let signatureLength = signed ? ";chunk-signature=".utf8.count + 64 : 0
        var length = 0
        var remaining = payloadLength
        while remaining > 0 {
            let n = min(remaining, chunkSize)
            length += String(n, radix: 16).utf8.count + signatureLength + 2 + n + 2
            remaining -= n
        }
        length += 1 + signatureLength + 2
        for (name, value) in trailers { length += name.utf8.count + 1 + value.utf8.count + 2 }
        if signed, !trailers.isEmpty { length += "x-amz-trailer-signature:".utf8.count + 64 + 2 }
        return length + 2
    }

    // MARK: SigV4 presigned URL

    /// A SigV4 presigned URL request (`X-Amz-*` query parameters), valid for `expires`
    /// seconds from ``now``. `Host` and `headers` are signed; the payload is
    /// `UNSIGNED-PAYLOAD`. The returned request carries `Host` and `headers` and no body.
    func presignV4(method: String, path: String, query: [(name: String, value: String?)] = [],
                   headers: [(name: String, value: String)] = [], expires: Int = 3600) -> SignedRequest {
        let all: [(name: String, value: String)] = [("Host", host)] + headers
        let signed = Self.signedHeaderNames(all)
        let items = query + [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", "\(accessKey)/\(scope)"),
            ("X-Amz-Date", timestamp),
            ("X-Amz-Expires", String(expires)),
            ("X-Amz-SignedHeaders", signed.joined(separator: ";")),
        ]
        let canonical = Self.canonicalRequest(method: method, path: path, canonicalQuery: Self.canonicalQuery(items),
                                              headers: all, signedHeaders: signed, payloadHash: "UNSIGNED-PAYLOAD")
        let signature = SigV4.signature(signingKey: signingKey, stringToSign: stringToSign(canonicalRequest: canonical))
        let rawQuery = Self.rawQuery(items + [("X-Amz-Signature", signature)])
        return SignedRequest(method: method, path: path, query: rawQuery, headers: all, body: [], signature: signature)
    }

    // MARK: SigV2

    /// Signs with `Authorization: AWS key:signature` (HMAC-SHA1) and a `Date` header.
    /// `Content-MD5`, `Content-Type` and `x-amz-*` headers in `headers` are covered, as
    /// are the S3 sub-resources in `query`. Adds `Content-Length` like ``sign(method:path:query:headers:body:payload:)``.
    func signV2(method: String, path: String, query: [(name: String, value: String?)] = [],
                headers: [(name: String, value: String)] = [], body: [UInt8] = []) -> SignedRequest {
        var all: [(name: String, value: String)] = [("Host", host)] + headers
        let dateValue = Self.httpDate(now)
        all.append(("Date", dateValue))
        if !all.contains(where: { $0.name.lowercased() == "content-length" }), !body.isEmpty || method == "PUT" || method == "POST" {
            all.append(("Content-Length", String(body.count)))
        }
        let sts = Self.v2StringToSign(method: method, headers: all, dateOrExpires: dateValue, amzQuery: [],
                                      path: path, query: query)
        let signature = SigV2.signature(secret: secret, stringToSign: sts)
        all.append(("Authorization", "AWS \(accessKey):\(signature)"))
        return SignedRequest(method: method, path: path, query: Self.rawQuery(query), headers: all, body: body,
                             signature: signature)
    }

    /// A SigV2 presigned URL (`AWSAccessKeyId`, `Expires`, `Signature`), valid for
    /// `expires` seconds from ``now``. `x-amz-*` headers in `headers` are signed and sent.
    func presignV2(method: String, path: String, query: [(name: String, value: String?)] = [],
                   headers: [(name: String, value: String)] = [], expires: Int = 3600) -> SignedRequest {
        let all: [(name: String, value: String)] = [("Host", host)] + headers
        let expiresText = String(Int64(now.timeIntervalSince1970.rounded(.down)) + Int64(expires))
        let sts = Self.v2StringToSign(method: method, headers: all, dateOrExpires: expiresText, amzQuery: [],
                                      path: path, query: query)
        let signature = SigV2.signature(secret: secret, stringToSign: sts)
        let items = query + [("AWSAccessKeyId", accessKey), ("Expires", expiresText), ("Signature", signature)]
        return SignedRequest(method: method, path: path, query: Self.rawQuery(items), headers: all, body: [],
                             signature: signature)
    }

    /// The sub-resources SigV2 signs (RESTAuthentication, as botocore lists them).
    static let v2SubResources: Set<String> = [
        "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy",
        "requestPayment", "response-cache-control", "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type", "response-expires", "restore", "tagging",
        "torrent", "uploadId", "uploads", "versionId", "versioning", "versions", "website",
    ]

    static func v2StringToSign(method: String, headers: [(name: String, value: String)], dateOrExpires: String,
                               amzQuery: [(name: String, value: String)], path: String,
                               query: [(name: String, value: String?)]) -> String {
        func value(_ name: String) -> String {
            headers.first { $0.name.lowercased() == name }?.value.trimmingCharacters(in: .whitespaces) ?? ""
        }
        var amz: [String: [String]] = [:]
        for (name, v) in headers + amzQuery where name.lowercased().hasPrefix("x-amz-") {
            amz[name.lowercased(), default: []].append(v.trimmingCharacters(in: .whitespaces))
        }
        let amzBlock = amz.keys.sorted().map { "\($0):\(amz[$0]!.joined(separator: ","))\n" }.joined()
        let sub = query.filter { v2SubResources.contains($0.name) }.sorted { $0.name < $1.name }
        var resource = path.isEmpty ? "/" : path
        if !sub.isEmpty {
            resource += "?" + sub.map { item in item.value.map { "\(item.name)=\($0)" } ?? item.name }.joined(separator: "&")
        }
        return "\(method)\n\(value("content-md5"))\n\(value("content-type"))\n\(dateOrExpires)\n\(amzBlock)\(resource)"
    }

    /// RFC 1123 date, `Fri, 24 May 2013 00:00:00 GMT`.
    static func httpDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }

    // MARK: canonical forms (built here, not with the server's code)

    /// The query string to send: each name and value percent-encoded, in the given order.
    static func rawQuery(_ items: [(name: String, value: String?)]) -> String {
        items.map { item in
            item.value.map { "\(S3Path.encodeSegment(item.name))=\(S3Path.encodeSegment($0))" } ?? S3Path.encodeSegment(item.name)
        }.joined(separator: "&")
    }

    /// The SigV4 canonical query: encoded `name=value` (bare names get `=`), sorted by
    /// name then value.
    static func canonicalQuery(_ items: [(name: String, value: String?)]) -> String {
        items.map { (S3Path.encodeSegment($0.name), S3Path.encodeSegment($0.value ?? "")) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// The lowercase, sorted, de-duplicated names of the headers to sign.
    static func signedHeaderNames(_ headers: [(name: String, value: String)]) -> [String] {
        Array(Set(headers.map { $0.name.lowercased() }).subtracting(unsignedHeaderNames)).sorted()
    }

    /// The SigV4 canonical request. The path is used as given: the SDKs send the same
    /// once-encoded path they sign.
    static func canonicalRequest(method: String, path: String, canonicalQuery: String,
                                 headers: [(name: String, value: String)], signedHeaders: [String],
                                 payloadHash: String) -> String {
        var block = ""
        for name in signedHeaders {
            let values = headers.filter { $0.name.lowercased() == name }.map { header in
                header.value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            }
            block += "\(name):\(values.joined(separator: ","))\n"
        }
        return [method, path.isEmpty ? "/" : path, canonicalQuery, block, signedHeaders.joined(separator: ";"), payloadHash]
            .joined(separator: "\n")
    }

    /// The base64 checksum of `bytes`, as sent in `x-amz-checksum-*` headers and trailers.
    static func checksumBase64(_ algorithm: ChecksumAlgorithm, of bytes: [UInt8]) -> String {
        Data(ChecksumHasher.digest(algorithm, of: bytes)).base64EncodedString()
    }

    /// Lowercase hex SHA-256.
    static func sha256Hex(_ bytes: [UInt8]) -> String {
        var hasher = ChecksumHasher(.sha256)
        hasher.update(bytes)
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
