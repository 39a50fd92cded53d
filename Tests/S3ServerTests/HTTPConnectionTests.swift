import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import ObjectStore
import StrataTestSupport
import XCTest
@testable import S3Server

/// A connection's lifecycle on an in-memory channel (`NIOAsyncTestingChannel`), with the
/// HTTP codec and the idle handler in front as the server sets them up: header timeout,
/// keep-alive, refusal over the cap, stopping and idling, driven by virtual time instead
/// of waiting for real seconds to pass.
final class HTTPConnectionTests: XCTestCase {
    /// One connection served by ``HTTPConnection`` on a testing channel.
    final class Connection: @unchecked Sendable {
        static let headerTimeout = TimeAmount.seconds(1)

        let channel = NIOAsyncTestingChannel()
        var lifecycle: ConnectionLifecycle!
        var serving: Task<Void, Never>!
        /// Response bytes written but not read yet.
        private var pending: [UInt8] = []

        /// - Parameter store: nil: the handler answers S3 requests 503 (store not open);
        ///   the health checks still answer 200.
        init(store: ObjectStore? = nil, overCapacity: Bool = false) async throws {
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9000))
            let channel = self.channel
            let (asyncChannel, lifecycle) = try await channel.testingEventLoop.executeInContext {
                let lifecycle = ConnectionLifecycle(channel: channel, headerTimeout: Self.headerTimeout)
                let sync = channel.pipeline.syncOperations
                // (NIO's IdleStateHandler, in front of it in the server, keeps time by the
                // real clock: tests send its event themselves, see ``idle()``.)
                try sync.addHandler(IdleConnectionCloser(lifecycle))
                try sync.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: true)
                let asyncChannel = try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                    wrappingChannelSynchronously: channel)
                return (asyncChannel, lifecycle)
            }
            self.lifecycle = lifecycle
            if overCapacity { lifecycle.overCapacity() }
            let configuration = S3ServerConfiguration(credentials: [S3TestServer.accessKey: S3TestServer.secretKey])
            let handler = S3RequestHandler(slot: store.map { StoreSlot($0) } ?? StoreSlot(), configuration: configuration,
                                           logger: Logger(label: "test"))
            serving = Task { await HTTPConnection(channel: asyncChannel, handler: handler, lifecycle: lifecycle).run() }
        }

        func send(_ text: String) async throws {
            try await channel.writeInbound(ByteBuffer(string: text))
        }

        func send(_ bytes: [UInt8]) async throws {
            try await channel.writeInbound(ByteBuffer(bytes: bytes))
        }

        /// The next complete response (head and Content-Length body) written.
        func response() async throws -> HTTPResponse {
            while true {
                if let (response, used) = HTTPResponse.parse(pending) {
                    pending.removeFirst(used)
                    return response
                }
                switch try await channel.waitForOutboundWrite(as: IOData.self) {
                case .byteBuffer(let buffer): pending += buffer.readableBytesView
                case .fileRegion: XCTFail("no file regions expected")
                }
            }
        }

        /// Waits (without sleeping) until the connection's task has taken its step.
        func waitUntil(_ condition: (HTTPConnectionStateMachine.State) -> Bool) async {
            for _ in 0..<10_000 {
                if condition(lifecycle.state) { return }
                await Task.yield()
            }
            XCTFail("state stays \(lifecycle.state)")
        }

        func waitForNextHead() async {
            await waitUntil { if case .awaitingHead = $0 { return true } else { return false } }
        }

        /// What NIO's IdleStateHandler sends when nothing was read or written for the
        /// idle timeout.
        func idle() async throws {
            try await channel.testingEventLoop.executeInContext {
                self.channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.all)
            }
        }

        func advance(by amount: TimeAmount) async {
            await channel.testingEventLoop.advanceTime(by: amount)
        }

        var isOpen: Bool { channel.isActive }

        /// Waits for the connection's task to end, then for the channel to close.
        func ended() async throws {
            await serving.value
            try await channel.closeFuture.get()
        }

        func close() async {
            try? await channel.close()
            await serving.value
        }
    }

    private let live = "GET /_strata/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    func testKeepAliveConnectionServesRequestsInTurn() async throws {
        let connection = try await Connection()
        for _ in 0..<3 {
            try await connection.send(live)
            let response = try await connection.response()
            XCTAssertEqual(response.status, 200)
            XCTAssertFalse(response.closesConnection)
        }
        try await connection.send("GET /_strata/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let last = try await connection.response()
        XCTAssertEqual(last.status, 200)
        XCTAssertTrue(last.closesConnection)
        try await connection.ended()
    }

    // MARK: - Header timeout

    func testTrickledHeadIsCutOffAtTheHeaderTimeout() async throws {
        let connection = try await Connection()
        try await connection.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        await connection.advance(by: .milliseconds(900))
        XCTAssertTrue(connection.isOpen)
        await connection.advance(by: .milliseconds(100))
        try await connection.ended()
    }

    /// The allowance runs from the end of the previous response: a connection that served
    /// a request 0.6 s in and then trickles the next head is closed a second after that
    /// response, not 0.4 s into the trickle.
    func testTrickledHeadAfterAServedRequestGetsTheWholeTimeout() async throws {
        let connection = try await Connection()
        await connection.advance(by: .milliseconds(600))
        try await connection.send(live)
        let response = try await connection.response()
        XCTAssertEqual(response.status, 200)
        await connection.waitForNextHead()
        try await connection.send("GET /_strata/health/live HTTP/1.1\r\n")
        await connection.advance(by: .milliseconds(900))
        XCTAssertTrue(connection.isOpen, "closed counting from the connection's start")
        await connection.advance(by: .milliseconds(700))
        try await connection.ended()
    }

    /// Prompt requests keep a connection open far past the header timeout.
    func testBusyKeepAliveConnectionOutlivesTheHeaderTimeout() async throws {
        let connection = try await Connection()
        for _ in 0..<12 {
            try await connection.send(live)
            let response = try await connection.response()
            XCTAssertEqual(response.status, 200)
            await connection.waitForNextHead()
            await connection.advance(by: .milliseconds(200))
        }
        XCTAssertTrue(connection.isOpen)
        await connection.close()
    }

    // MARK: - Refusing, stopping, idling

    /// Over the cap: 503 SlowDown with an S3 error document, then the connection closes.
    func testConnectionOverTheCapGetsSlowDownAndCloses() async throws {
        let connection = try await Connection(overCapacity: true)
        try await connection.send(live)
        let refused = try await connection.response()
        XCTAssertEqual(refused.status, 503)
        XCTAssertEqual(refused.errorCode, "SlowDown")
        XCTAssertEqual(refused.header("Retry-After"), "1")
        XCTAssertTrue(refused.closesConnection)
        try await connection.ended()
    }

    /// A connection over the cap that never sends a request is closed at the header
    /// timeout, so refused connections cannot pile up.
    func testSilentConnectionOverTheCapIsClosedAtTheHeaderTimeout() async throws {
        let connection = try await Connection(overCapacity: true)
        await connection.advance(by: .milliseconds(999))
        XCTAssertTrue(connection.isOpen)
        await connection.advance(by: .milliseconds(1))
        try await connection.ended()
    }

    func testDrainClosesAnIdleConnectionAtOnce() async throws {
        let connection = try await Connection()
        try await connection.send(live)
        let response = try await connection.response()
        XCTAssertEqual(response.status, 200)
        await connection.waitForNextHead()
        connection.lifecycle.drain()
        try await connection.ended()
    }

    /// A PUT in flight when the server stops is stored, answered with
    /// `Connection: close`, and then the connection closes.
    func testDrainLetsARequestInFlightFinish() async throws {
        try await withTemporaryStore { store in
            _ = try await store.createBucket("bucket", attributes: [:])
            let connection = try await Connection(store: store)
            let signer = TestSigner(accessKey: S3TestServer.accessKey, secret: S3TestServer.secretKey, host: "127.0.0.1")
            let body = [UInt8](repeating: 7, count: 100_000)
            let wire = signer.sign(method: "PUT", path: "/bucket/k", body: body).wireBytes
            try await connection.send(Array(wire.dropLast(50_000)))
            await connection.waitUntil { $0 == .serving(keepAlive: true) }
            connection.lifecycle.drain()
            XCTAssertTrue(connection.isOpen, "a request in flight finishes")
            try await connection.send(Array(wire.suffix(50_000)))
            let answer = try await connection.response()
            XCTAssertEqual(answer.status, 200, answer.bodyString)
            XCTAssertTrue(answer.closesConnection)
            try await connection.ended()
            let stored = try await store.headObject(bucket: "bucket", key: "k")
            XCTAssertEqual(stored.size, 100_000)
        }
    }

    /// A request whose body stops coming is cut off by the idle timeout (the header
    /// timeout does not apply while a request is served).
    func testStalledBodyIsCutOffByTheIdleTimeout() async throws {
        let connection = try await Connection()
        try await connection.send("PUT /bucket/key HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nabc")
        // The answer (503: the store is not open) waits for the unread body to be drained,
        // however long the header timeout is exceeded.
        await connection.advance(by: .seconds(4))
        XCTAssertTrue(connection.isOpen, "the unread body is being drained")
        try await connection.idle()
        try await connection.ended()
    }

    /// `Expect: 100-continue` answered with an error: no `100 Continue`, and the
    /// connection closes, since the body may or may not follow.
    func testExpectContinueErrorClosesWithout100() async throws {
        let connection = try await Connection()
        try await connection.send("PUT /bucket/key HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
        let answer = try await connection.response()
        XCTAssertEqual(answer.status, 503)
        XCTAssertEqual(answer.interimStatuses, [])
        XCTAssertTrue(answer.closesConnection)
        try await connection.ended()
    }

    /// Runs `body` with an open store in a fresh directory, closed and removed afterwards.
    private func withTemporaryStore(_ body: (ObjectStore) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-conn-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try ObjectStore(directory: directory)
        defer { try? store.close() }
        try await body(store)
    }
}

private extension HTTPResponse {
    /// The first complete response in `bytes` (a Content-Length body, or none), with the
    /// interim 1xx responses before it, and how many bytes it took; nil while incomplete.
    static func parse(_ bytes: [UInt8]) -> (HTTPResponse, Int)? {
        var start = 0
        var interim: [Int] = []
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        while true {
            guard let end = bytes[start...].firstRange(of: separator)?.upperBound else { return nil }
            let lines = String(decoding: bytes[start..<end], as: UTF8.self).components(separatedBy: "\r\n")
            let statusParts = lines[0].split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
            if (100..<200).contains(status) {
                interim.append(status)
                start = end
                continue
            }
            var headers: [(name: String, value: String)] = []
            for line in lines.dropFirst() where !line.isEmpty {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
            var response = HTTPResponse(status: status, reason: statusParts.count > 2 ? String(statusParts[2]) : "",
                                        version: String(statusParts[0]), headers: headers, body: [])
            response.interimStatuses = interim
            let length = response.header("content-length").flatMap { Int($0) } ?? 0
            let bodyLength = status == 204 || status == 304 ? 0 : length
            guard bytes.count - end >= bodyLength else { return nil }
            response.body = Array(bytes[end..<(end + bodyLength)])
            return (response, end + bodyLength)
        }
    }
}
