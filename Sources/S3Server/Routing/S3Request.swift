import NIOHTTP1

/// A request as S3 sees it: which bucket and key it addresses (path-style or
/// virtual-hosted-style), its query parameters and headers.
struct S3Request: Sendable {
    let head: HTTPRequestHead
    /// The path exactly as sent (still percent-encoded): what signatures are computed over.
    let rawPath: String
    /// The query exactly as sent, without `?`.
    let rawQuery: String
    /// Decoded query parameters in order (`+` read as a space, as in form encoding).
    let query: [(name: String, value: String)]
    /// `query` as signature checking decodes the query (``SigningRequest/queryParameters``,
    /// `+` literal), when the two agree: no `+` and every escape well-formed UTF-8. Nil
    /// otherwise. Saves parsing the query a second time per request.
    var queryAsSigned: [(name: String, value: String)]? {
        queryDecodedCleanly && !rawQuery.utf8.contains(UInt8(ascii: "+")) ? query : nil
    }
    private let queryDecodedCleanly: Bool
    /// The addressed bucket, if any.
    let bucket: String?
    /// The addressed key, if any (percent-decoded once from the raw path; `+` is a
    /// literal plus).
    let key: String?
    /// Whether the bucket came from the Host header.
    let virtualHosted: Bool

    var method: HTTPMethod { head.method }
    var headers: HTTPHeaders { head.headers }

    /// The value of a query parameter, if present (the first one).
    func query(_ name: String) -> String? {
        query.first { $0.name == name }?.value
    }

    /// Whether a query parameter is present (with or without a value).
    func has(_ name: String) -> Bool {
        query.contains { $0.name == name }
    }

    /// The first value of a header.
    func header(_ name: String) -> String? {
        head.headers.first(name: name)
    }

    /// The resource named in error documents: `/bucket/key`.
    var resource: String {
        guard let bucket else { return "/" }
        guard let key else { return "/\(bucket)" }
        return "/\(bucket)/\(key)"
    }

    /// Parses the request target.
    /// - Parameter domain: the configured base domain for virtual-hosted style.
    /// - Throws: `InvalidURI` (as `InvalidArgument`) for a path that does not decode to UTF-8.
    init(head: HTTPRequestHead, domain: String?) throws {
        self.head = head
        let uri = head.uri
        let rawPath: Substring, rawQuery: Substring
        if let q = uri.utf8.firstIndex(of: UInt8(ascii: "?")) {
            rawPath = uri[..<q]
            rawQuery = uri[uri.utf8.index(after: q)...]
        } else {
            rawPath = Substring(uri)
            rawQuery = ""
        }
        self.rawPath = String(rawPath)
        self.rawQuery = String(rawQuery)
        var clean = true
        self.query = rawQuery.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true).map { item in
            let (rawName, rawValue) = SigV4.splitPair(Substring(item))
            let decodedName = Self.percentDecode(rawName, plusAsSpace: true)
            let decodedValue = Self.percentDecode(rawValue, plusAsSpace: true)
            if decodedName == nil || decodedValue == nil { clean = false }
            return (decodedName ?? String(rawName), decodedValue ?? String(rawValue))
        }
        self.queryDecodedCleanly = clean

        // The configured domain is matched as a suffix of the Host, so dotted
        // bucket names work; IPs and unknown hosts fall back to path style.
        var hostBucket: String?
        if let domain, let host = head.headers.first(name: "host") {
            let name = Self.hostWithoutPort(host).lowercased()
            let suffix = "." + domain.lowercased()
            if name.hasSuffix(suffix), name.count > suffix.count {
                hostBucket = String(name.dropLast(suffix.count))
            }
        }
        guard let path = Self.percentDecode(rawPath, plusAsSpace: false) else {
            throw S3Error.invalidArgument("Couldn't parse the specified URI.", name: "URI", value: String(rawPath))
        }
        guard path.hasPrefix("/") else {
            throw S3Error.invalidArgument("Couldn't parse the specified URI.", name: "URI", value: String(rawPath))
        }
        let afterSlash = path.dropFirst()
        if let hostBucket {
            virtualHosted = true
            bucket = hostBucket
            key = afterSlash.isEmpty ? nil : String(afterSlash)
        } else {
            virtualHosted = false
            if afterSlash.isEmpty {
                bucket = nil
                key = nil
            } else if let slash = afterSlash.utf8.firstIndex(of: UInt8(ascii: "/")) {
                bucket = String(afterSlash[..<slash])
                let rest = afterSlash[afterSlash.utf8.index(after: slash)...]
                key = rest.isEmpty ? nil : String(rest)
            } else {
                bucket = String(afterSlash)
                key = nil
            }
        }
    }

    static func hostWithoutPort(_ host: String) -> Substring {
        if host.hasPrefix("[") {  // [::1]:9000
            return host.firstIndex(of: "]").map { host[...$0] } ?? Substring(host)
        }
        return host.lastIndex(of: ":").map { host[..<$0] } ?? Substring(host)
    }

    /// Decodes `%XX` escapes; nil when an escape is malformed or the bytes are not UTF-8.
    static func percentDecode(_ text: Substring, plusAsSpace: Bool) -> String? {
        let utf8 = text.utf8
        guard utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) else {
            return String(text)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var i = utf8.startIndex
        while i != utf8.endIndex {
            let c = utf8[i]
            if c == UInt8(ascii: "%") {
                let h = utf8.index(after: i)
                guard h != utf8.endIndex, utf8.index(after: h) != utf8.endIndex,
                      let hi = Hex.nibble(utf8[h]), let lo = Hex.nibble(utf8[utf8.index(after: h)]) else { return nil }
                bytes.append(hi << 4 | lo)
                i = utf8.index(h, offsetBy: 2)
                continue
            }
            bytes.append(plusAsSpace && c == UInt8(ascii: "+") ? UInt8(ascii: " ") : c)
            i = utf8.index(after: i)
        }
        // Not `String(validating:)`: its generic path costs metadata lookups (see
        // ByteReader.readString); decoding repairs invalid UTF-8, so compare.
        let decoded = String(decoding: bytes, as: UTF8.self)
        return decoded.utf8.elementsEqual(bytes) ? decoded : nil
    }
}
