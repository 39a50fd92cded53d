import ArgumentParser
import Foundation
import ObjectStore
import S3Server
#if canImport(Glibc)
import Glibc
#endif

struct Compact: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reclaim the space of overwritten and deleted data.",
        discussion: """
        Copies what is still live in mostly-dead sealed segments to the end of the log, \
        switches the index to the copies and deletes those segments. Offline on a stopped \
        data directory (--data), or online by asking a running server (--server, signed \
        with the root credentials); reads and writes go on meanwhile. A crash at any point \
        recovers to a correct state. A running server also compacts in the background \
        (strata serve --compact-threshold / --compact-interval).
        """
    )

    @OptionGroup var options: DataOptions

    @Option(name: .long, help: "Ask the server at this URL (e.g. http://127.0.0.1:9000) instead of opening --data.")
    var server: String?

    @Option(name: .long, help: "Compact sealed segments whose dead ratio is at least this (0 to 1).")
    var threshold: Double = 0.5

    @Option(name: .long, help: "Compact this segment whatever its dead ratio (repeatable; overrides --threshold).")
    var segment: [UInt64] = []

    @Option(name: .long, help: "Copy at most this many bytes per second (e.g. 50M, 1G).")
    var bandwidth: String?

    @OptionGroup var credentials: RootCredentials

    @Option(name: .long, help: "The region to sign --server requests for: the server's --region, if it sets one.")
    var region = "us-east-1"

    @Flag(name: .long, help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard (0...1).contains(threshold) else { throw ValidationError("--threshold must be from 0 to 1") }
        if let bandwidth, parseByteSize(bandwidth) == nil {
            throw ValidationError("--bandwidth must be a byte count such as 1048576, 50M or 1G")
        }
    }

    func run() async throws {
        let bytesPerSecond = bandwidth.flatMap(parseByteSize)
        let report: CompactionReport
        if let server {
            report = try remote(server, bytesPerSecond: bytesPerSecond)
        } else {
            guard FileManager.default.fileExists(atPath: options.data + "/segments") else {
                printError("strata compact: \(options.data) has no segments directory")
                throw ExitCode(2)
            }
            let store = try ObjectStore(directory: options.data)
            let bar = ProgressBar(enabled: !json && isatty(STDERR_FILENO) != 0)
            do {
                report = try await store.compact(CompactionOptions(threshold: threshold, segments: segment.isEmpty ? nil : segment,
                                                                   bytesPerSecond: bytesPerSecond)) { bar.show($0) }
            } catch {
                bar.finish()
                try? store.close()
                throw error
            }
            bar.finish()
            try store.close()
        }
        if json {
            try printJSON(report)
        } else {
            print(describe(report))
        }
    }

    /// POST /_strata/compact on the server, signed with SigV4.
    private func remote(_ url: String, bytesPerSecond: UInt64?) throws -> CompactionReport {
        guard let components = URLComponents(string: url), components.scheme == "http",
              let host = components.host else {
            throw ValidationError("--server must be an http:// URL such as http://127.0.0.1:9000")
        }
        let port = components.port ?? 80
        var query: [String] = ["threshold=\(threshold)"]
        if !segment.isEmpty { query.append("segment=" + segment.map(String.init).joined(separator: "%2C")) }
        if let bytesPerSecond { query.append("bandwidth=\(bytesPerSecond)") }
        let (accessKey, secretKey) = credentials.resolved
        let signer = SigV4Signer(accessKey: accessKey, secretKey: secretKey, region: region)
        let hostHeader = components.port == nil ? host : "\(host):\(port)"
        let path = "/_strata/compact", rawQuery = query.joined(separator: "&")
        let headers = signer.headers(method: "POST", host: hostHeader, rawPath: path, rawQuery: rawQuery)
        let (status, body) = try httpRequest(host: host, port: port, method: "POST", target: path + "?" + rawQuery, headers: headers)
        guard status == 200 else {
            printError("strata compact: the server answered \(status): \(String(decoding: body, as: UTF8.self))")
            throw ExitCode(1)
        }
        return try JSONDecoder().decode(CompactionReport.self, from: Data(body))
    }

    private func describe(_ r: CompactionReport) -> String {
        guard !r.victims.isEmpty else {
            return "nothing to compact: no sealed segment has a dead ratio of \(threshold) or more"
        }
        var lines = [
            "segments compacted: \(r.removed.map(String.init).joined(separator: " "))",
            "entries moved:      \(r.entriesMoved)",
            "bytes copied:       \(humanBytes(r.bytesCopied))",
            "space reclaimed:    \(r.bytesReclaimed < 0 ? "-" : "")\(humanBytes(UInt64(abs(r.bytesReclaimed))))",
            String(format: "time:               %.2f s", r.seconds),
        ]
        if !r.kept.isEmpty {
            lines.append("kept for a later run (a multipart completion pointed into them): \(r.kept.map(String.init).joined(separator: " "))")
        }
        return lines.joined(separator: "\n")
    }
}

/// `1048576`, `64K`, `50M`, `1G` (powers of 1024) → bytes.
func parseByteSize(_ text: String) -> UInt64? {
    let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
    var digits = Substring(text.uppercased())
    if digits.hasSuffix("IB") || digits.hasSuffix("B") { digits = digits.dropLast(digits.hasSuffix("IB") ? 2 : 1) }
    var factor: UInt64 = 1
    if let last = digits.last, let unit = units[last] {
        factor = unit
        digits = digits.dropLast()
    }
    guard let value = UInt64(digits), value > 0 else { return nil }
    let (product, overflow) = value.multipliedReportingOverflow(by: factor)
    return overflow ? nil : product
}

/// A one-line progress bar on standard error, redrawn in place.
final class ProgressBar: @unchecked Sendable {
    private let enabled: Bool
    private let lock = NSLock()
    private var drawn = false

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ p: CompactionProgress) {
        guard enabled, p.bytesTotal > 0 else { return }
        // The total is an estimate, so the bar stops at full.
        let width = 30, filled = Int(min(UInt64(width), UInt64(width) * p.bytesCopied / p.bytesTotal))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        lock.withLock {
            FileHandle.standardError.write(Data("\r[\(bar)] \(humanBytes(p.bytesCopied)) of ~\(humanBytes(p.bytesTotal)) copied, \(p.entriesDone) entries".utf8))
            drawn = true
        }
    }

    func finish() {
        lock.withLock { if drawn { FileHandle.standardError.write(Data("\n".utf8)) } }
    }
}

/// One HTTP/1.1 request over a plain TCP connection (`Connection: close`); returns the
/// status and the body. Enough for the small JSON answers of the operator endpoints.
func httpRequest(host: String, port: Int, method: String, target: String,
                 headers: [(name: String, value: String)], timeoutSeconds: Int = 3600) throws -> (Int, [UInt8]) {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
        throw ValidationError("cannot resolve \(host)")
    }
    defer { freeaddrinfo(list) }
    let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
    guard fd >= 0 else { throw ValidationError("socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    guard connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
        throw ValidationError("cannot connect to \(host):\(port): \(String(cString: strerror(errno)))")
    }
    var request = "\(method) \(target) HTTP/1.1\r\n"
    for (name, value) in headers { request += "\(name): \(value)\r\n" }
    request += "Content-Length: 0\r\nConnection: close\r\n\r\n"
    let bytes = Array(request.utf8)
    var sent = 0
    while sent < bytes.count {
        let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard n > 0 else { throw ValidationError("send: \(String(cString: strerror(errno)))") }
        sent += n
    }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 && errno == EINTR { continue }
        guard n >= 0 else { throw ValidationError("no answer from \(host):\(port): \(String(cString: strerror(errno)))") }
        if n == 0 { break }
        response += buffer[0..<n]
    }
    let separator: [UInt8] = [13, 10, 13, 10]
    guard let end = (0..<max(0, response.count - 3)).first(where: { Array(response[$0..<$0 + 4]) == separator }) else {
        throw ValidationError("malformed answer from \(host):\(port)")
    }
    let head = String(decoding: response[..<end], as: UTF8.self)
    let statusLine = head.split(separator: "\r\n").first ?? ""
    guard let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
        throw ValidationError("malformed status line from \(host):\(port): \(statusLine)")
    }
    var body = Array(response[(end + 4)...])
    if head.lowercased().contains("transfer-encoding: chunked") { body = dechunk(body) }
    return (status, body)
}

/// Decodes a chunked body read to its end.
private func dechunk(_ bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [], i = 0
    while i < bytes.count {
        guard let lineEnd = (i..<bytes.count - 1).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }),
              let size = Int(String(decoding: bytes[i..<lineEnd], as: UTF8.self).split(separator: ";").first ?? "", radix: 16),
              size > 0, lineEnd + 2 + size <= bytes.count else { break }
        out += bytes[(lineEnd + 2)..<(lineEnd + 2 + size)]
        i = lineEnd + 2 + size + 2
    }
    return out
}
