import Crypto
#if canImport(Glibc)
import Glibc
#endif

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
        var utf8: [UInt8] = []
        utf8.reserveCapacity(text.utf8.count)
        utf8.append(contentsOf: text.utf8)
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
        // Most names and values need no decoding: copy them as they are.
        if !text.utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) {
            return String(text)
        }
        return String(decoding: percentDecode(text, plusAsSpace: plusAsSpace), as: UTF8.self)
    }

    static func splitPair(_ pair: Substring) -> (Substring, Substring) {
        if let eq = pair.utf8.firstIndex(of: UInt8(ascii: "=")) {
            return (pair[..<eq], pair[pair.utf8.index(after: eq)...])
        }
        return (pair, "")
    }

    /// Whether `bytes` need no percent-encoding (all unreserved characters).
    private static func isUnreserved(_ bytes: some Sequence<UInt8>) -> Bool {
        bytes.allSatisfy { b in
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "."), UInt8(ascii: "~"):
                return true
            default:
                return false
            }
        }
    }

    /// Whether `bytes` are already in SigV4's encoding: unreserved characters, and
    /// escapes in uppercase hex of bytes that must be escaped (`%2F`, not `%2f` or `%41`).
    /// Decoding and re-encoding such text gives it back unchanged. Presigned URLs are
    /// written this way (`X-Amz-Credential=AKID%2F20261204%2F…`), so their parameters
    /// skip the round trip, which the profile of a presigned 4 KiB GET showed as the
    /// largest part of building the canonical query.
    /// With `slashes`, a literal `/` (a path's separator) is accepted too.
    private static func isCanonical(_ bytes: Substring.UTF8View, slashes: Bool = false) -> Bool {
        if let answer = bytes.withContiguousStorageIfAvailable({ isCanonical($0, 0..<$0.count, slashes: slashes) }) {
            return answer
        }
        return Array(bytes).withUnsafeBufferPointer { isCanonical($0, 0..<$0.count, slashes: slashes) }
    }

    /// Decodes once and re-encodes by the SigV4 rules; text that is already canonical
    /// is returned as it is.
    private static func recode(_ text: Substring, plusAsSpace: Bool, keepSlash: Bool = false) -> String {
        if isCanonical(text.utf8) { return String(text) }
        return uriEncode(percentDecode(text, plusAsSpace: plusAsSpace), keepSlash: keepSlash)
    }

    // MARK: canonical request

    /// The canonical URI for S3: the raw path with each `/`-separated segment decoded and
    /// re-encoded once. No `//` collapsing and no `.`/`..` removal, unlike other services.
    public static func canonicalURI(rawPath: String) -> String {
        if rawPath.isEmpty { return "/" }
        // A path whose segments are all canonical is its own canonical form.
        if isCanonical(Substring(rawPath).utf8, slashes: true) { return rawPath }
        return rawPath.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            .map { recode(Substring($0), plusAsSpace: false) }
            .joined(separator: "/")
    }

    /// The canonical query string: parameters decoded, re-encoded, sorted by name then
    /// value (bytewise on the encoded form), `name=value` joined by `&`.
    ///
    /// - Parameters:
    ///   - excluding: parameter names left out (`X-Amz-Signature` for presigned URLs).
    ///   - plusAsSpace: whether a raw `+` means a space (form encoding) or a literal plus.
    public static func canonicalQuery(rawQuery: String, excluding: Set<String> = [], plusAsSpace: Bool = true) -> String {
        if let asSent = canonicalAsSent(rawQuery, excluding: excluding) { return asSent }
        return canonicalQueryBySorting(rawQuery: rawQuery, excluding: excluding, plusAsSpace: plusAsSpace)
    }

    /// The raw query itself, less the excluded parameters, when it is already canonical:
    /// every parameter `name=value` with both canonical, in sorted order. Presigned URLs
    /// come this way from the SDKs (and from the benchmark's signer); splitting, sorting
    /// and joining them was most of building the canonical query of a presigned GET
    /// (perf). Nil when any parameter needs the general path.
    static func canonicalAsSent(_ rawQuery: String, excluding: Set<String>) -> String? {
        var rawQuery = rawQuery
        let excluded = excluding.map { Array($0.utf8) }
        return rawQuery.withUTF8 { bytes -> String? in
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var previous: (name: Range<Int>, value: Range<Int>)?
            var start = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count, bytes[end] != UInt8(ascii: "&") { end += 1 }
                defer { start = end + 1 }
                if start == end { continue }  // `&&`: no parameter, as in the general path
                var eq = start
                while eq < end, bytes[eq] != UInt8(ascii: "=") { eq += 1 }
                guard eq < end else { return nil }
                let name = start..<eq, value = (eq + 1)..<end
                guard isCanonical(bytes, name), isCanonical(bytes, value) else { return nil }
                // A canonical name has no `+` and no escapes of unreserved characters, so it
                // is the excluded name exactly when its bytes are.
                if excluded.contains(where: { $0.elementsEqual(bytes[name]) }) { continue }
                if let previous {
                    let nameOrder = compare(bytes[previous.name], bytes[name])
                    if nameOrder > 0 || (nameOrder == 0 && compare(bytes[previous.value], bytes[value]) > 0) { return nil }
                    out.append(UInt8(ascii: "&"))
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<end]))
                previous = (name, value)
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// ``isCanonical(_:slashes:)`` for `range` of `bytes`.
    private static func isCanonical(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, slashes: Bool = false) -> Bool {
        var i = range.lowerBound
        while i < range.upperBound {
            let b = bytes[i]
            if b == UInt8(ascii: "%") {
                guard i + 2 < range.upperBound, let high = hexDigit(bytes[i + 1]), let low = hexDigit(bytes[i + 2]) else { return false }
                if isUnreserved(CollectionOfOne(high << 4 | low)) { return false }
                i += 3
                continue
            }
            if !isUnreserved(CollectionOfOne(b)) && !(slashes && b == UInt8(ascii: "/")) { return false }
            i += 1
        }
        return true
    }

    /// The value of an uppercase hex digit (canonical escapes use uppercase).
    private static func hexDigit(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Bytewise three-way comparison.
    private static func compare(_ a: Slice<UnsafeBufferPointer<UInt8>>, _ b: Slice<UnsafeBufferPointer<UInt8>>) -> Int {
        let common = min(a.count, b.count)
        let order = memcmp(a.base.baseAddress! + a.startIndex, b.base.baseAddress! + b.startIndex, common)
        if order != 0 { return order < 0 ? -1 : 1 }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    /// ``canonicalQuery(rawQuery:excluding:plusAsSpace:)`` by the rule as written: decode,
    /// re-encode, sort, join.
    static func canonicalQueryBySorting(rawQuery: String, excluding: Set<String>, plusAsSpace: Bool) -> String {
        var pairs: [(String, String)] = []
        for part in rawQuery.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let (name, value) = splitPair(Substring(part))
            if !excluding.isEmpty, excluding.contains(percentDecodedString(name, plusAsSpace: plusAsSpace)) { continue }
            pairs.append((recode(name, plusAsSpace: plusAsSpace), recode(value, plusAsSpace: plusAsSpace)))
        }
        pairs.sort { a, b in
            a.0 != b.0 ? a.0.utf8.lexicographicallyPrecedes(b.0.utf8) : a.1.utf8.lexicographicallyPrecedes(b.1.utf8)
        }
        var query = ""
        query.reserveCapacity(rawQuery.utf8.count + 16)
        for (number, pair) in pairs.enumerated() {
            if number > 0 { query += "&" }
            query += pair.0
            query += "="
            query += pair.1
        }
        return query
    }

    /// A header value as signed: trimmed, runs of whitespace collapsed to one space.
    static func canonicalHeaderValue(_ value: String) -> String {
        // The common case: no leading, trailing or repeated whitespace, no tabs or newlines.
        var previousSpace = true
        let clean = value.utf8.allSatisfy { b in
            if b == UInt8(ascii: "\t") || b == UInt8(ascii: "\r") || b == UInt8(ascii: "\n") { return false }
            let space = b == UInt8(ascii: " ")
            defer { previousSpace = space }
            return !(space && previousSpace)
        }
        if clean && !previousSpace { return value }
        return value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" })
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
        "\(algorithm)\n\(timestamp)\n\(scope)\n\(sha256Hex(canonicalRequest))"
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
    public static func signature(signingKey: SigningKey, stringToSign: String) -> String {
        Hex.encode(signingKey.authenticationCode(for: stringToSign))
    }

    /// ``signature(signingKey:stringToSign:)`` with a key given as bytes.
    public static func signature(signingKey: [UInt8], stringToSign: String) -> String {
        signature(signingKey: SigningKey(signingKey), stringToSign: stringToSign)
    }

    static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// Lowercase hex SHA-256.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        Hex.encode(SHA256.hash(data: bytes))
    }

    /// Lowercase hex SHA-256 of the UTF-8 of `text`, hashed in place.
    public static func sha256Hex(_ text: String) -> String {
        var text = text
        return text.withUTF8 { Hex.encode(SHA256.hash(data: UnsafeRawBufferPointer($0))) }
    }

    /// Compares two signatures without an early exit, so timing does not reveal how many
    /// leading characters matched. Hex case is not significant.
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        var diff: UInt8 = 0
        for (x, y) in zip(a.utf8, b.utf8) { diff |= asciiLowercase(x) ^ asciiLowercase(y) }
        return diff == 0
    }

    private static func asciiLowercase(_ b: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b) ? b | 0x20 : b
    }

    static func constantTimeEquals(_ x: [UInt8], _ y: [UInt8]) -> Bool {
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
