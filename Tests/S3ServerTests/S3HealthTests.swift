import Foundation
import ObjectStore
import XCTest
@testable import S3Server

/// `/_strata/health/live` and `/_strata/health/ready`: a server that listens before its
/// store is open (as `strata serve` does while recovery runs) is alive but not ready, and
/// S3 requests get 503 until the store is there.
final class S3HealthTests: XCTestCase {
    func testNotReadyWhileTheStoreOpensThenReady() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-health-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let slot = StoreSlot()
        let server = try await S3HTTPServer.start(slot: slot, configuration: .init(host: "127.0.0.1", port: 0,
                                                                                   credentials: [S3TestServer.accessKey: S3TestServer.secretKey]))
        var store: ObjectStore?
        do {
            let client = S3TestClient(port: server.port)
            let live = try await client.send(SignedRequest(method: "GET", path: "/_strata/health/live", query: "", headers: [("Host", "127.0.0.1")], body: [], signature: ""))
            XCTAssertEqual(live.status, 200)
            let notReady = try await client.send(SignedRequest(method: "GET", path: "/_strata/health/ready", query: "", headers: [("Host", "127.0.0.1")], body: [], signature: ""))
            XCTAssertEqual(notReady.status, 503)
            XCTAssertEqual(notReady.bodyString, #"{"status":"recovering","version":"\#(StrataVersion.current)"}"#)
            let signer = TestSigner(accessKey: S3TestServer.accessKey, secret: S3TestServer.secretKey, host: "127.0.0.1:\(server.port)")
            let early = try await client.send(signer.sign(method: "GET", path: "/"))
            XCTAssertEqual(early.status, 503)
            XCTAssertEqual(early.errorCode, "ServiceUnavailable")

            store = try ObjectStore(directory: directory)
            slot.fill(store!)
            let ready = try await client.send(SignedRequest(method: "GET", path: "/_strata/health/ready", query: "", headers: [("Host", "127.0.0.1")], body: [], signature: ""))
            XCTAssertEqual(ready.status, 200)
            XCTAssertEqual(ready.bodyString, #"{"status":"ok","version":"\#(StrataVersion.current)"}"#)
            let head = try await client.send(SignedRequest(method: "HEAD", path: "/_strata/health/ready", query: "", headers: [("Host", "127.0.0.1")], body: [], signature: ""))
            XCTAssertEqual(head.status, 200)
            let list = try await client.send(signer.sign(method: "GET", path: "/"))
            XCTAssertEqual(list.status, 200)
        } catch {
            XCTFail("\(error)")
        }
        await server.stop()
        try store?.close()
    }
}

/// The connection cap (`strata serve --max-connections`) end to end, over real sockets:
/// one connection over it is answered 503 SlowDown with an S3 error document and closed;
/// once a slot frees up a new connection is served. (The rules themselves are tested in
/// ConnectionAdmissionTests and HTTPConnectionTests.)
final class S3ConnectionLimitTests: XCTestCase {
    func testConnectionOverTheCapGetsSlowDown() async throws {
        try await S3TestServer.with(configure: { $0.maxConnections = 2 }) { server in
            let first = S3TestClient(server), second = S3TestClient(server)
            try await first.expect(200, "GET", "/")
            try await second.expect(200, "GET", "/")
            let third = S3TestClient(server)
            let refused = try await third.call("GET", "/")
            XCTAssertEqual(refused.status, 503)
            XCTAssertEqual(refused.errorCode, "SlowDown")
            XCTAssertEqual(refused.header("Retry-After"), "1")
            XCTAssertTrue(refused.closesConnection)

            // The first client's keep-alive connection is still served.
            try await first.expect(200, "GET", "/")
            await first.close()
            var served = false
            for _ in 0..<50 where !served {
                try await Task.sleep(for: .milliseconds(20))
                served = try await S3TestClient(server).call("GET", "/").status == 200
            }
            XCTAssertTrue(served, "a freed slot takes a new connection")
        }
    }
}

/// Slow clients (`strata serve --header-timeout`) end to end, over a real socket and the
/// server's real timer: a request head that does not arrive complete in time closes the
/// connection; a prompt one on the same setting is served. (The timeout's rules are
/// tested in HTTPConnectionStateMachineTests and, in virtual time, HTTPConnectionTests.)
final class S3HeaderTimeoutTests: XCTestCase {
    /// Runs blocking socket work off Swift's cooperative threads (which serve requests).
    private func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }

    func testTrickledHeadIsCutOffAtTheHeaderTimeout() async throws {
        try await S3TestServer.with(configure: { $0.headerTimeoutSeconds = 1 }) { server in
            let port = server.port
            let closedAfter = try await offPool { () -> Double in
                let client = try RawHTTPClient(port: port, timeout: 10)
                let started = Date()
                try client.sendRaw("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                let rest = try client.readUntilClose()
                XCTAssertEqual(rest, [], "closed without an answer")
                return Date().timeIntervalSince(started)
            }
            XCTAssertGreaterThan(closedAfter, 0.8)
            XCTAssertLessThan(closedAfter, 5)
            try await S3TestClient(server).expect(200, "GET", "/")
        }
    }
}
