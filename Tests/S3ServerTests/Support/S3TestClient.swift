import Dispatch
import Foundation
import XCTest
@testable import S3Server

/// A tiny S3 client for operation tests: every request is SigV4-signed (signed payload)
/// by ``TestSigner`` and sent over one keep-alive ``RawHTTPClient`` connection, which is
/// reopened when the server closes it.
///
/// The blocking socket calls run on the client's own dispatch queue, never on a thread
/// of Swift's cooperative pool: the in-process server serves its connections on that
/// pool, and a test blocking it (two threads on a two-core machine) would starve the
/// server it is waiting for.
final class S3TestClient: @unchecked Sendable {
    let port: Int
    let host: String
    private let queue = DispatchQueue(label: "S3TestClient")
    /// Touched only on `queue`.
    private var connection: RawHTTPClient?

    /// The credentials requests are signed with; nil sends them unsigned (anonymous).
    let credentials: (accessKey: String, secret: String)?

    convenience init(_ server: S3TestServer) {
        self.init(port: server.port)
    }

    /// A client signing as another user, or anonymous (`credentials: nil`).
    convenience init(_ server: S3TestServer, credentials: (accessKey: String, secret: String)?) {
        self.init(port: server.port, credentials: credentials)
    }

    init(port: Int, credentials: (accessKey: String, secret: String)? = (S3TestServer.accessKey, S3TestServer.secretKey)) {
        self.port = port
        self.credentials = credentials
        host = "127.0.0.1:\(port)"
    }

    /// Signs and sends one request, returns the response.
    ///
    /// - Parameters:
    ///   - path: the raw path, already percent-encoded (see ``S3Path/encode(bucket:key:)``).
    ///   - query: query items in order; a nil value is a bare name (`?delete`).
    func call(_ method: String, _ path: String, query: [(name: String, value: String?)] = [],
              headers: [(name: String, value: String)] = [], body: [UInt8] = []) async throws -> HTTPResponse {
        guard let credentials else {
            var rawQuery = ""
            for (index, item) in query.enumerated() {
                rawQuery += (index == 0 ? "" : "&") + S3Path.encodeSegment(item.name) + (item.value.map { "=" + S3Path.encodeSegment($0) } ?? "")
            }
            var fields = [(name: "Host", value: host)] + headers
            if !body.isEmpty || ["PUT", "POST"].contains(method) { fields.append((name: "Content-Length", value: "\(body.count)")) }
            return try await send(SignedRequest(method: method, path: path, query: rawQuery, headers: fields, body: body, signature: ""))
        }
        let signer = TestSigner(accessKey: credentials.accessKey, secret: credentials.secret, host: host)
        let request = signer.sign(method: method, path: path, query: query, headers: headers, body: body)
        return try await send(request)
    }

    /// Closes the keep-alive connection (the next call opens a new one).
    func close() async {
        await withCheckedContinuation { continuation in
            queue.async {
                self.connection?.close()
                self.connection = nil
                continuation.resume()
            }
        }
    }

    /// Sends an already signed (or deliberately unsigned) request.
    func send(_ request: SignedRequest) async throws -> HTTPResponse {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.sendBlocking(request) })
            }
        }
    }

    private func sendBlocking(_ request: SignedRequest) throws -> HTTPResponse {
        let connection = try self.connection ?? RawHTTPClient(port: port)
        self.connection = connection
        let response: HTTPResponse
        do {
            response = try connection.send(request)
        } catch {
            self.connection = nil
            throw error
        }
        if response.closesConnection { self.connection = nil }
        return response
    }

    // MARK: conveniences

    /// Sends a request and asserts its status (XCTAssert's autoclosures cannot await).
    /// Returns the response for further checks.
    @discardableResult
    func expect(_ status: Int, _ method: String, _ path: String, query: [(name: String, value: String?)] = [],
                headers: [(name: String, value: String)] = [], body: [UInt8] = [], message: String = "",
                file: StaticString = #filePath, line: UInt = #line) async throws -> HTTPResponse {
        let response = try await call(method, path, query: query, headers: headers, body: body)
        XCTAssertEqual(response.status, status, "\(method) \(path): \(message) \(response.bodyString)",
                       file: file, line: line)
        return response
    }

    /// PUT an object with `body`; fails the call (throws) unless the status is 200.
    @discardableResult
    func put(_ bucket: String, _ key: String, _ body: [UInt8], headers: [(name: String, value: String)] = [])
        async throws -> HTTPResponse {
        let response = try await call("PUT", S3Path.encode(bucket: bucket, key: key), headers: headers, body: body)
        guard response.status == 200 else { throw UnexpectedStatus(response: response) }
        return response
    }

    /// PUT a bucket; throws unless the status is 200.
    func createBucket(_ bucket: String) async throws {
        let response = try await call("PUT", S3Path.encode(bucket: bucket))
        guard response.status == 200 else { throw UnexpectedStatus(response: response) }
    }

    /// A status a convenience call did not expect, with the body for the failure message.
    struct UnexpectedStatus: Error, CustomStringConvertible {
        let response: HTTPResponse
        var description: String { "unexpected \(response.status): \(response.bodyString)" }
    }
}

extension HTTPResponse {
    /// The body parsed with the server's ``XMLTree`` (a test of the document's shape
    /// that does not share the writer's code).
    func xml() throws -> XMLTree {
        try XMLTree.parse(body)
    }

    /// The `<Code>` of an S3 error document, or nil.
    var errorCode: String? {
        (try? xml())?.child("Code")?.text
    }
}

extension XMLTree {
    /// The texts of every element reached by following `path` from this node, where each
    /// step takes all children of that name: `texts("Contents", "Key")`.
    func texts(_ path: String...) -> [String] {
        nodes(path[...]).map(\.text)
    }

    /// The text of the first element reached by `path`, or nil.
    func text(_ path: String...) -> String? {
        nodes(path[...]).first?.text
    }

    /// The elements reached by following `path`.
    func nodes(_ path: ArraySlice<String>) -> [XMLTree] {
        guard let first = path.first else { return [self] }
        return children(first).flatMap { $0.nodes(path.dropFirst()) }
    }
}

/// Base64 of the binary MD5 of `bytes` (a Content-MD5 value).
func contentMD5(_ bytes: [UInt8]) -> String {
    var hasher = MD5Hasher()
    hasher.update(bytes)
    return hasher.finalizeBase64()
}

/// Lowercase hex MD5 of `bytes` (an S3 ETag without the quotes).
func md5Hex(_ bytes: [UInt8]) -> String {
    var hasher = MD5Hasher()
    hasher.update(bytes)
    return hexString(hasher.finalize())
}

/// An HTTP date (`Wed, 12 Oct 2009 17:50:00 GMT`) for `date`.
func httpDate(_ date: Date) -> String {
    TestSigner.httpDate(date)
}

/// Parses an HTTP date as S3 sends it in Last-Modified.
func parseHTTPDate(_ text: String) -> Date? {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "GMT")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
    return formatter.date(from: text)
}

extension S3TestServer {
    /// Stores `keys` (each with its own name as the body) straight through the store,
    /// many at a time so their commits share fsyncs: seeding for listing tests.
    func seed(bucket: String, keys: [String]) async throws {
        let store = self.store
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func addNext() {
                guard next < keys.count else { return }
                let key = keys[next]
                next += 1
                group.addTask { try await store.putObject(bucket: bucket, key: key, data: Array(key.utf8)) }
            }
            for _ in 0..<64 { addNext() }
            while try await group.next() != nil { addNext() }
        }
    }
}
