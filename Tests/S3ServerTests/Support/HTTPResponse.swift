import Foundation

/// One HTTP response as read off the wire by ``RawHTTPClient``: the status line, the
/// header fields in arrival order, the de-framed body and any chunked trailers.
struct HTTPResponse: Sendable {
    /// The status code, e.g. 200.
    var status: Int
    /// The reason phrase, e.g. `OK` (may be empty).
    var reason: String
    /// The protocol version from the status line, e.g. `HTTP/1.1`.
    var version: String
    /// The header fields in arrival order, names as sent.
    var headers: [(name: String, value: String)]
    /// The body with any chunked framing removed.
    var body: [UInt8]
    /// Trailer fields of a `Transfer-Encoding: chunked` body, in arrival order.
    var trailers: [(name: String, value: String)] = []
    /// Status codes of interim (1xx) responses that preceded this one, when read through
    /// ``RawHTTPClient/request(method:path:headers:body:)``, e.g. `[100]`.
    var interimStatuses: [Int] = []

    /// The first value of the header `name` (case-insensitive).
    func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }

    /// All values of the header `name` (case-insensitive), in arrival order.
    func headerValues(_ name: String) -> [String] {
        let lower = name.lowercased()
        return headers.compactMap { $0.name.lowercased() == lower ? $0.value : nil }
    }

    /// The body decoded as UTF-8.
    var bodyString: String { String(decoding: body, as: UTF8.self) }

    /// Whether the server said it will close the connection after this response.
    var closesConnection: Bool {
        headerValues("connection").contains { $0.lowercased().split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == "close" } }
            || version == "HTTP/1.0" && !(header("connection")?.lowercased().contains("keep-alive") ?? false)
    }
}
