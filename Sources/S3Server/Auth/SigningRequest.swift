/// The parts of an HTTP request that request signing covers, exactly as received.
///
/// `rawPath` and `rawQuery` must be the bytes from the request line, still percent-encoded:
/// S3 builds its canonical URI from the raw path without normalising it (pitfall 8), so
/// a decoded or cleaned path would verify the wrong thing.
public struct SigningRequest: Sendable {
    /// The HTTP method, e.g. `PUT`.
    public var method: String
    /// The path from the request line, percent-encoded as received (no query).
    public var rawPath: String
    /// The query string without the leading `?`; empty when there is none.
    public var rawQuery: String
    /// The header fields in arrival order; names in any case, repeats allowed.
    public var headers: [(name: String, value: String)]

    /// Creates a request view from its parts.
    public init(method: String, rawPath: String, rawQuery: String = "", headers: [(name: String, value: String)]) {
        self.method = method
        self.rawPath = rawPath
        self.rawQuery = rawQuery
        self.headers = headers
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
        let lower = name.lowercased()
        return headers.compactMap { $0.name.lowercased() == lower ? $0.value : nil }
    }

    /// The first value of the header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }

    /// The query parameters, percent-decoded (`+` kept literal), in order.
    /// A parameter without `=` has an empty value.
    public var queryParameters: [(name: String, value: String)] {
        rawQuery.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let (name, value) = SigV4.splitPair(pair)
            return (SigV4.percentDecodedString(name, plusAsSpace: false),
                    SigV4.percentDecodedString(value, plusAsSpace: false))
        }
    }

    /// The first decoded value of the query parameter `name` (case-sensitive, as S3 is).
    public func queryParameter(_ name: String) -> String? {
        queryParameters.first { $0.name == name }?.value
    }
}
