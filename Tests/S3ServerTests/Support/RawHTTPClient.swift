import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal blocking HTTP/1.1 client over one TCP connection to 127.0.0.1, for protocol
/// tests that must see exactly what goes over the socket.
///
/// No connection pooling, no redirects, no retries, no header rewriting: what you ask
/// to send is what is sent, which is what a test of malformed requests or of
/// `Expect: 100-continue` needs. Several requests may share the connection (keep-alive).
/// Every read is bounded by a socket receive timeout, so a server that stalls fails the
/// test instead of hanging it.
final class RawHTTPClient {
    /// Why a send or read failed.
    enum Failure: Error, CustomStringConvertible {
        /// A socket call failed with `errno`.
        case socket(call: String, errno: Int32)
        /// Nothing arrived within the receive timeout.
        case timedOut
        /// The server closed the connection before a complete response.
        case closed(partial: [UInt8])
        /// The response does not parse as HTTP/1.1.
        case malformed(String)

        var description: String {
            switch self {
            case .socket(let call, let code): return "\(call) failed: \(String(cString: strerror(code)))"
            case .timedOut: return "timed out waiting for the server"
            case .closed(let partial): return "connection closed after \(partial.count) bytes of a response"
            case .malformed(let why): return "malformed response: \(why)"
            }
        }
    }

    /// The port connected to.
    let port: Int
    /// The `Host` value added when a request has none: `127.0.0.1:PORT`.
    var hostHeader: String { "127.0.0.1:\(port)" }

    private var fd: Int32
    /// Bytes received but not yet consumed by a response.
    private var pending: [UInt8] = []
    private var pendingStart = 0

    /// Connects to `127.0.0.1:port`. Reads (and writes) give up after `timeout` seconds.
    init(port: Int, timeout: TimeInterval = 10) throws {
        self.port = port
        #if canImport(Glibc)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure.socket(call: "socket", errno: errno) }

        var tv = timeval()
        tv.tv_sec = .init(timeout.rounded(.down))
        tv.tv_usec = .init((timeout - timeout.rounded(.down)) * 1_000_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        // Head and body written separately must leave as separate segments (100-continue).
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        #if canImport(Darwin)
        setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            let code = errno
            _ = closeDescriptor(fd)
            throw Failure.socket(call: "connect", errno: code)
        }
    }

    deinit { close() }

    /// Closes the connection (idempotent).
    func close() {
        if fd >= 0 {
            _ = closeDescriptor(fd)
            fd = -1
        }
    }

    // MARK: sending

    /// Writes `bytes` exactly as given.
    func sendRaw(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                systemSend(fd, raw.baseAddress! + offset, raw.count - offset, Self.sendFlags)
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw Failure.timedOut }
                throw Failure.socket(call: "send", errno: errno)
            }
            offset += n
        }
    }

    /// Writes the UTF-8 bytes of `text` exactly as given (write `\r\n` yourself).
    func sendRaw(_ text: String) throws {
        try sendRaw(Array(text.utf8))
    }

    /// The request head as bytes: request line, the headers in order, blank line.
    static func head(method: String, path: String, headers: [(name: String, value: String)]) -> [UInt8] {
        var text = "\(method) \(path) HTTP/1.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// Sends one request and reads its response.
    ///
    /// `path` is the request-target, already percent-encoded (path and query). Adds
    /// `Host: 127.0.0.1:PORT` if absent, and `Content-Length` if neither it nor
    /// `Transfer-Encoding` is present and there is a body (or the method is PUT/POST).
    /// With `Expect: 100-continue` the head goes first; the body is sent only after an
    /// interim `100 Continue`, and a final response that comes instead is returned as is
    /// (the body is then never sent). Interim statuses are recorded in
    /// ``HTTPResponse/interimStatuses``.
    func request(method: String, path: String, headers: [(name: String, value: String)] = [],
                 body: [UInt8] = []) throws -> HTTPResponse {
        var headers = headers
        func has(_ name: String) -> Bool { headers.contains { $0.name.lowercased() == name } }
        if !has("host") { headers.insert(("Host", hostHeader), at: 0) }
        if !has("content-length"), !has("transfer-encoding"), !body.isEmpty || method == "PUT" || method == "POST" {
            headers.append(("Content-Length", String(body.count)))
        }
        let expectContinue = headers.contains {
            $0.name.lowercased() == "expect" && $0.value.lowercased() == "100-continue"
        }
        let isHead = method == "HEAD"
        var interim: [Int] = []
        if expectContinue {
            try sendRaw(Self.head(method: method, path: path, headers: headers))
            var response = try readResponse(isHead: isHead)
            while (100..<200).contains(response.status) {
                interim.append(response.status)
                if response.status == 100 { break }
                response = try readResponse(isHead: isHead)
            }
            if response.status != 100 {
                response.interimStatuses = interim
                return response
            }
            try sendRaw(body)
        } else {
            try sendRaw(Self.head(method: method, path: path, headers: headers) + body)
        }
        var response = try readResponse(isHead: isHead)
        while (100..<200).contains(response.status) && response.status != 101 {
            interim.append(response.status)
            response = try readResponse(isHead: isHead)
        }
        response.interimStatuses = interim
        return response
    }

    // MARK: reading

    /// Reads one response (an interim 1xx response counts as one). No body is read for
    /// HEAD (`isHead`), 1xx, 204 and 304; otherwise the body is framed by
    /// `Transfer-Encoding: chunked`, else `Content-Length`, else the end of the connection.
    func readResponse(isHead: Bool = false) throws -> HTTPResponse {
        let headBytes = try readHead()
        let lines = String(decoding: headBytes, as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/"), let status = Int(statusParts[1]) else {
            throw Failure.malformed("status line \(lines[0].debugDescription)")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw Failure.malformed("header line \(line.debugDescription)") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var response = HTTPResponse(status: status, reason: statusParts.count > 2 ? String(statusParts[2]) : "",
                                    version: String(statusParts[0]), headers: headers, body: [])
        if isHead || (100..<200).contains(status) || status == 204 || status == 304 {
            return response
        }
        if let te = response.header("transfer-encoding"), te.lowercased().contains("chunked") {
            (response.body, response.trailers) = try readChunkedBody()
        } else if let lengthText = response.header("content-length") {
            guard let length = Int(lengthText), length >= 0 else { throw Failure.malformed("Content-Length \(lengthText)") }
            response.body = try readExactly(length)
        } else {
            response.body = try readUntilClose()
        }
        return response
    }

    /// Reads until the server closes the connection; returns what arrived.
    func readUntilClose() throws -> [UInt8] {
        while try fill() {}
        return take(pending.count - pendingStart)
    }

    /// Whether the server has closed the connection (reads EOF, after discarding any
    /// unread bytes) within the receive timeout. False if it is still open when the
    /// timeout expires.
    func serverClosedConnection() -> Bool {
        do {
            _ = try readUntilClose()
            return true
        } catch Failure.timedOut {
            return false
        } catch {
            return true // ECONNRESET and friends: closed too.
        }
    }

    private func readHead() throws -> [UInt8] {
        var searched = 0 // bytes after pendingStart known not to start the terminator
        while true {
            if let end = find([13, 10, 13, 10], from: pendingStart + searched) {
                let head = take(end - pendingStart)
                _ = take(4)
                return head
            }
            searched = max(0, pending.count - pendingStart - 3)
            guard try fill() else { throw Failure.closed(partial: take(pending.count - pendingStart)) }
        }
    }

    private func readLine() throws -> String {
        var searched = 0
        while true {
            if let end = find([13, 10], from: pendingStart + searched) {
                let line = take(end - pendingStart)
                _ = take(2)
                return String(decoding: line, as: UTF8.self)
            }
            searched = max(0, pending.count - pendingStart - 1)
            guard try fill() else { throw Failure.closed(partial: take(pending.count - pendingStart)) }
        }
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        while pending.count - pendingStart < count {
            guard try fill() else { throw Failure.closed(partial: take(pending.count - pendingStart)) }
        }
        return take(count)
    }

    private func readChunkedBody() throws -> ([UInt8], [(name: String, value: String)]) {
        var body: [UInt8] = []
        while true {
            let line = try readLine()
            let sizeText = line.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard let size = Int(sizeText, radix: 16), size >= 0 else { throw Failure.malformed("chunk size line \(line.debugDescription)") }
            if size == 0 { break }
            body += try readExactly(size)
            guard try readExactly(2) == [13, 10] else { throw Failure.malformed("chunk data not followed by CRLF") }
        }
        var trailers: [(name: String, value: String)] = []
        while true {
            let line = try readLine()
            if line.isEmpty { return (body, trailers) }
            guard let colon = line.firstIndex(of: ":") else { throw Failure.malformed("trailer line \(line.debugDescription)") }
            trailers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
    }

    /// Receives more bytes into `pending`; false at end of stream. May drop consumed
    /// bytes, so callers keep positions relative to `pendingStart`.
    private func fill() throws -> Bool {
        if pendingStart > 0, pendingStart == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingStart = 0
        }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 {
                pending += chunk[0..<n]
                return true
            }
            if n == 0 { return false }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw Failure.timedOut }
            throw Failure.socket(call: "recv", errno: errno)
        }
    }

    private func take(_ count: Int) -> [UInt8] {
        let out = Array(pending[pendingStart..<(pendingStart + count)])
        pendingStart += count
        return out
    }

    private func find(_ needle: [UInt8], from start: Int) -> Int? {
        guard pending.count >= needle.count else { return nil }
        var i = start
        while i + needle.count <= pending.count {
            if pending[i] == needle[0], Array(pending[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }

    #if canImport(Glibc)
    private static let sendFlags = Int32(MSG_NOSIGNAL)
    #else
    private static let sendFlags: Int32 = 0
    #endif
}

// The C calls whose names ``RawHTTPClient``'s own methods (`close`, `send`) hide.

private func closeDescriptor(_ fd: Int32) -> Int32 {
    close(fd)
}

private func systemSend(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int, _ flags: Int32) -> Int {
    send(fd, bytes, count, flags)
}
