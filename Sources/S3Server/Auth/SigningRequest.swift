/// The parts of an HTTP request that request signing covers, exactly as received.
///
/// `rawPath` and `rawQuery` must be the bytes from the request line, still percent-encoded:
/// S3 builds its canonical URI from the raw path without normalising it (`//` and `.`
/// segments stay; docs/S3-NOTES.md, "Keys are taken from the raw path"), so
/// a decoded or cleaned path would verify the wrong thing.
public struct SigningRequest: Sendable {
    /// The HTTP method, e.g. `PUT`.
    public var method: String
    /// The path from the request line, percent-encoded as received (no query).
    public var rawPath: String
    /// The query string without the leading `?`; empty when there is none.
    public var rawQuery: String {
        didSet { queryParameters = Self.parseQuery(rawQuery) }
    }
    /// The header fields in arrival order; names in any case, repeats allowed.
    public var headers: [(name: String, value: String)]

    /// Creates a request view from its parts.
    public init(method: String, rawPath: String, rawQuery: String = "", headers: [(name: String, value: String)]) {
        self.method = method
        self.rawPath = rawPath
        self.rawQuery = rawQuery
        self.headers = headers
        self.queryParameters = Self.parseQuery(rawQuery)
    }

    /// Creates a request view whose query the caller has already decoded as
    /// ``parseQuery(_:)`` would (`queryParameters`); nil decodes it here.
    init(method: String, rawPath: String, rawQuery: String, headers: [(name: String, value: String)],
         queryParameters: [(name: String, value: String)]?) {
        self.method = method
        self.rawPath = rawPath
        self.rawQuery = rawQuery
        self.headers = headers
        self.queryParameters = queryParameters ?? Self.parseQuery(rawQuery)
    }

    /// Creates a request view from a request-target such as `/bucket/key?uploadId=1`.
    public init(method: String, uri: String, headers: [(name: String, value: String)]) {
        if let q = uri.firstIndex(of: "?") {
            self.init(method: method, rawPath: String(uri[..<q]),
                      rawQuery: String(uri[uri.index(after: q)...]), headers: headers)
        } else {
            self.init(method: method, rawPath: uri, rawQuery: "", headers: headers)
        }
    }

    /// All values of the header `name` (case-insensitive), in arrival order.
    public func headerValues(_ name: String) -> [String] {
        headers.compactMap { Self.sameName($0.name, name) ? $0.value : nil }
    }

    /// The first value of the header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { Self.sameName($0.name, name) }?.value
    }

    /// Header names compare ASCII case-insensitively.
    static func sameName(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        return zip(a.utf8, b.utf8).allSatisfy { x, y in x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= UInt8(ascii: "a") && (x | 0x20) <= UInt8(ascii: "z")) }
    }

    /// The query parameters, percent-decoded (`+` kept literal), in order.
    /// A parameter without `=` has an empty value. Parsed once, when `rawQuery` is set:
    /// authentication reads them several times per request.
    public private(set) var queryParameters: [(name: String, value: String)] = []

    static func parseQuery(_ rawQuery: String) -> [(name: String, value: String)] {
        rawQuery.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true).map { pair in
            let (name, value) = SigV4.splitPair(Substring(pair))
            return (SigV4.percentDecodedString(name, plusAsSpace: false),
                    SigV4.percentDecodedString(value, plusAsSpace: false))
        }
    }

    /// The first decoded value of the query parameter `name` (case-sensitive, as S3 is).
    public func queryParameter(_ name: String) -> String? {
        queryParameters.first { $0.name == name }?.value
    }
}
