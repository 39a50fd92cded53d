import Crypto

/// AWS Signature Version 4 as S3 applies it: canonical request, string to sign, key
/// derivation and signatures. Pure functions; ``RequestAuthenticator`` puts them together.
public enum SigV4 {
    /// The only algorithm accepted: `AWS4-HMAC-SHA256`.
    public static let algorithm = "AWS4-HMAC-SHA256"
    /// The hex SHA-256 of the empty string (used in chunk strings to sign).
    public static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    // MARK: encoding

    /// Percent-encodes by the SigV4 rules: everything but `A-Za-z0-9-_.~` becomes `%XY`
    /// (uppercase hex); `/` is kept when `keepSlash` is true.
    public static func uriEncode(_ bytes: some Sequence<UInt8>, keepSlash: Bool = false) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out = [UInt8]()
        for b in bytes {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(b)
            case UInt8(ascii: "/") where keepSlash:
                out.append(b)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `%XY` escapes; a `%` not followed by two hex digits stays literal.
    /// With `plusAsSpace`, `+` decodes to a space (form decoding).
    static func percentDecode(_ text: some StringProtocol, plusAsSpace: Bool) -> [UInt8] {
        let utf8 = Array(text.utf8)
        var out = [UInt8]()
        out.reserveCapacity(utf8.count)
        var i = 0
        while i < utf8.count {
            let c = utf8[i]
            if c == UInt8(ascii: "%"), i + 2 < utf8.count,
               let hi = Hex.nibble(utf8[i + 1]), let lo = Hex.nibble(utf8[i + 2]) {
                out.append(hi << 4 | lo)
                i += 3
            } else if c == UInt8(ascii: "+"), plusAsSpace {
                out.append(UInt8(ascii: " "))
                i += 1
            } else {
                out.append(c)
                i += 1
            }
        }
        return out
    }

    static func percentDecodedString(_ text: some StringProtocol, plusAsSpace: Bool) -> String {
        String(decoding: percentDecode(text, plusAsSpace: plusAsSpace), as: UTF8.self)
    }

    static func splitPair(_ pair: Substring) -> (Substring, Substring) {
        if let eq = pair.firstIndex(of: "=") {
            return (pair[..<eq], pair[pair.index(after: eq)...])
        }
        return (pair, "")
    }

    // MARK: canonical request

    /// The canonical URI for S3: the raw path with each `/`-separated segment decoded and
    /// re-encoded once. No `//` collapsing and no `.`/`..` removal, unlike other services.
    public static func canonicalURI(rawPath: String) -> String {
        if rawPath.isEmpty { return "/" }
        return rawPath.split(separator: "/", omittingEmptySubsequences: false)
            .map { uriEncode(percentDecode($0, plusAsSpace: false)) }
            .joined(separator: "/")
    }

    /// The canonical query string: parameters decoded, re-encoded, sorted by name then
    /// value (bytewise on the encoded form), `name=value` joined by `&`.
    ///
    /// - Parameters:
    ///   - excluding: parameter names left out (`X-Amz-Signature` for presigned URLs).
    ///   - plusAsSpace: whether a raw `+` means a space (form encoding) or a literal plus.
    public static func canonicalQuery(rawQuery: String, excluding: Set<String> = [], plusAsSpace: Bool = true) -> String {
        var pairs: [(String, String)] = []
        for part in rawQuery.split(separator: "&", omittingEmptySubsequences: true) {
            let (name, value) = splitPair(part)
            let decodedName = percentDecode(name, plusAsSpace: plusAsSpace)
            if !excluding.isEmpty, excluding.contains(String(decoding: decodedName, as: UTF8.self)) { continue }
            pairs.append((uriEncode(decodedName), uriEncode(percentDecode(value, plusAsSpace: plusAsSpace))))
        }
        pairs.sort { a, b in
            a.0 != b.0 ? Array(a.0.utf8).lexicographicallyPrecedes(Array(b.0.utf8))
                       : Array(a.1.utf8).lexicographicallyPrecedes(Array(b.1.utf8))
        }
        return pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// A header value as signed: trimmed, runs of whitespace collapsed to one space.
    static func canonicalHeaderValue(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" })
            .joined(separator: " ")
    }

    /// The canonical headers block (each `name:value\n`) for the signed header names,
    /// which must be lowercase and sorted. Repeated headers join with `,`. Returns the
    /// name of the first signed header the request lacks, if any.
    public static func canonicalHeaders(_ request: SigningRequest, signedHeaders: [String]) -> (block: String, missing: String?) {
        var grouped: [String: [String]] = [:]
        for (name, value) in request.headers {
            grouped[name.lowercased(), default: []].append(canonicalHeaderValue(value))
        }
        var block = ""
        var missing: String?
        for name in signedHeaders {
            guard let values = grouped[name] else {
                if missing == nil { missing = name }
                block += "\(name):\n"
                continue
            }
            block += "\(name):\(values.joined(separator: ","))\n"
        }
        return (block, missing)
    }

    /// The canonical request: method, URI, query, headers, signed header list, payload hash.
    public static func canonicalRequest(method: String, canonicalURI: String, canonicalQuery: String,
                                        canonicalHeaders: String, signedHeaders: [String], payloadHash: String) -> String {
        "\(method)\n\(canonicalURI)\n\(canonicalQuery)\n\(canonicalHeaders)\n\(signedHeaders.joined(separator: ";"))\n\(payloadHash)"
    }

    /// The string to sign for a request: algorithm, timestamp, scope, hash of the
    /// canonical request.
    public static func stringToSign(timestamp: String, scope: String, canonicalRequest: String) -> String {
        "\(algorithm)\n\(timestamp)\n\(scope)\n\(sha256Hex(Array(canonicalRequest.utf8)))"
    }

    // MARK: keys and signatures

    /// The signing key: HMAC chain `AWS4`+secret → date → region → service → `aws4_request`.
    public static func signingKey(secret: String, date: String, region: String, service: String) -> [UInt8] {
        var key = Array("AWS4\(secret)".utf8)
        for part in [date, region, service, "aws4_request"] {
            key = hmac(key: key, Array(part.utf8))
        }
        return key
    }

    /// The hex HMAC-SHA256 of `stringToSign` under `signingKey`.
    public static func signature(signingKey: [UInt8], stringToSign: String) -> String {
        Hex.encode(hmac(key: signingKey, Array(stringToSign.utf8)))
    }

    static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// Lowercase hex SHA-256.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        Hex.encode(SHA256.hash(data: bytes))
    }

    /// Compares two signatures without an early exit, so timing does not reveal how many
    /// leading characters matched. Hex case is not significant.
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.lowercased().utf8), y = Array(b.lowercased().utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }

    static func constantTimeEquals(_ x: [UInt8], _ y: [UInt8]) -> Bool {
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
