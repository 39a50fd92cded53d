import Foundation
import NIOHTTP1
import StrataTestSupport
import XCTest
@testable import S3Server

/// Fault rules (`/_strata/faults`): requests made to fail on purpose for people testing
/// their clients. What is checked: the rule document's checks, each action on a real
/// server, the matching, counting and listing, and that a faulted write stores nothing.
final class S3FaultRulesTests: XCTestCase {
    @discardableResult
    private func addRules(_ client: S3TestClient, _ json: String, status: Int = 200) async throws -> HTTPResponse {
        try await client.expect(status, "POST", "/_strata/faults", body: Array(json.utf8))
    }

    private func listed(_ client: S3TestClient) async throws -> [[String: Any]] {
        let response = try await client.expect(200, "GET", "/_strata/faults")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        return try XCTUnwrap(object["rules"] as? [[String: Any]])
    }

    // MARK: The rule document

    func testRuleDocumentsAreCheckedAndNamedInTheMessage() throws {
        XCTAssertEqual(try FaultRules.parse(Array(#"{"rules": [{"operation": "PutObject", "error": {"code": "SlowDown"}}]}"#.utf8)).count, 1)
        XCTAssertEqual(try FaultRules.parse(Array(#"[{"latencyMs": 1}, {"bandwidth": 10}]"#.utf8)).count, 2)
        let one = try FaultRules.parse(Array(#"{"id": "x", "operation": ["GetObject", "HeadObject"], "count": 1, "resetAfterBytes": 0}"#.utf8))
        XCTAssertEqual(one.first?.operations, ["GetObject", "HeadObject"])
        XCTAssertEqual(one.first?.count, 1, "1 is a number, not true")
        let slowDown = try XCTUnwrap(try FaultRules.parse(Array(#"{"error": {"code": "SlowDown"}}"#.utf8)).first?.action.error)
        XCTAssertEqual(slowDown, .init(code: "SlowDown", status: 503, message: "Please reduce your request rate."))
        XCTAssertEqual(try FaultRules.parse(Array(#"{"error": {"code": "NoSuchUpload"}}"#.utf8)).first?.action.error?.status, 404,
                       "a code Strata answers itself has its status")

        let refused: [(String, String)] = [
            (#"{"operation": "PutObjects", "latencyMs": 1}"#, "not an S3 operation name"),
            (#"{"operation": "putobject", "latencyMs": 1}"#, "did you mean PutObject"),
            (#"{"kyePrefix": "a", "latencyMs": 1}"#, "unknown field \"kyePrefix\""),
            (#"{"operation": "PutObject"}"#, "has no action"),
            (#"{"error": {"code": "Teapot"}}"#, "give error.status"),
            (#"{"error": {"code": "Teapot", "status": 200}}"#, "from 400 to 599"),
            (#"{"error": {"code": "SlowDown"}, "resetAfterBytes": 1}"#, "combines only with latencyMs"),
            (#"{"resetAfterBytes": 1, "truncateAfterBytes": 1}"#, "give one"),
            (#"{"probability": 1.5, "latencyMs": 1}"#, "from 0 to 1"),
            (#"{"count": true, "latencyMs": 1}"#, "count must be a number"),
            (#"{"count": 1.5, "latencyMs": 1}"#, "whole number"),
            (#"{"bandwidth": 0}"#, "at least 1 byte"),
            (#"[{"id": "a", "latencyMs": 1}, {"id": "a", "latencyMs": 2}]"#, "two fault rules have the id \"a\""),
            (#"{"rules": 3}"#, "a fault rule document is"),
            (#"not json"#, "not valid JSON"),
        ]
        for (json, expected) in refused {
            XCTAssertThrowsError(try FaultRules.parse(Array(json.utf8)), json) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(json): \(error)")
            }
        }
    }

    func testEveryRoutedOperationNameCanBeMatched() throws {
        let requests: [(String, String, String)] = [
            ("GET", "/", ""), ("PUT", "/b", ""), ("GET", "/b", "list-type=2"), ("GET", "/b", "versions"),
            ("PUT", "/b/k", ""), ("GET", "/b/k", ""), ("HEAD", "/b/k", ""), ("DELETE", "/b/k", ""),
            ("POST", "/b/k", "uploads"), ("PUT", "/b/k", "partNumber=1&uploadId=u"), ("POST", "/b/k", "uploadId=u"),
            ("GET", "/b", "accelerate"), ("GET", "/b", "metrics"), ("PUT", "/b", "website"), ("GET", "/b/k", "retention"),
        ]
        for (method, path, query) in requests {
            let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method),
                                       uri: path + (query.isEmpty ? "" : "?" + query))
            let operation = try S3Operation(try S3Request(head: head, domain: nil))
            XCTAssertTrue(S3Operation.s3Names.contains(operation.name), "\(method) \(path)?\(query) → \(operation.name)")
        }
    }

    // MARK: Actions on a real server

    /// boto3's and the CLI's retry of SlowDown: the rule fires `count` times, then the
    /// request goes through. The error is a real S3 error document with a request id.
    func testInjectedErrorIsAnS3ErrorDocumentAndTheFaultedPutStoresNothing() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            try await addRules(client, #"{"id": "slow", "operation": "PutObject", "bucket": "bkt", "error": {"code": "SlowDown"}, "count": 2}"#)
            for _ in 0..<2 {
                let refused = try await client.expect(503, "PUT", "/bkt/k", body: bytes("data"))
                XCTAssertEqual(refused.errorCode, "SlowDown")
                XCTAssertEqual(refused.header("Content-Type"), "application/xml")
                let document = try refused.xml()
                XCTAssertEqual(document.text("Message"), "Please reduce your request rate.")
                XCTAssertEqual(document.text("RequestId"), refused.header("x-amz-request-id"))
                try await client.expect(404, "HEAD", "/bkt/k")
            }
            try await client.expect(200, "PUT", "/bkt/k", body: bytes("data"))
            try await client.expect(200, "PUT", "/bkt/k2", body: bytes("data"))
            let rules = try await listed(client)
            XCTAssertEqual(rules.first?["hits"] as? Int, 2)
            XCTAssertEqual(rules.first?["matched"] as? Int, 2, "an exhausted rule matches nothing more")
            XCTAssertEqual(rules.first?["active"] as? Bool, false)
        }
    }

    func testRulesMatchOnOperationBucketKeyPrefixAndAccessKey() async throws {
        try await S3TestServer.with(configure: {
            $0.users = try! UserDirectory(root: $0.credentials, usersFile: "alice-key alice-secret alice-id Alice\n")
        }) { server in
            let root = S3TestClient(server)
            let alice = S3TestClient(server, credentials: ("alice-key", "alice-secret"))
            try await root.createBucket("bkt")
            try await root.createBucket("other")
            try await root.put("bkt", "logs/a", bytes("a"))
            try await root.put("bkt", "data/a", bytes("a"))
            try await root.put("other", "logs/a", bytes("a"))
            try await addRules(root, #"{"operation": ["GetObject", "HeadObject"], "bucket": "bkt", "keyPrefix": "logs/", "error": {"code": "InternalError"}}"#)
            try await addRules(root, #"{"accessKey": "alice-key", "error": {"code": "AccessDenied", "message": "no"}}"#)
            try await root.expect(500, "GET", "/bkt/logs/a")
            try await root.expect(500, "HEAD", "/bkt/logs/a")
            try await root.expect(200, "GET", "/bkt/data/a")
            try await root.expect(200, "GET", "/other/logs/a")
            try await root.expect(200, "GET", "/bkt", query: [("list-type", "2")])
            let denied = try await alice.expect(403, "GET", "/bkt", query: [("list-type", "2")])
            XCTAssertEqual(try denied.xml().text("Message"), "no")
            // Operator endpoints are never faulted (a rule for every operation would lock
            // its author out), and only the root credentials may change rules.
            try await addRules(root, #"{"error": {"code": "SlowDown"}}"#)
            try await root.expect(200, "GET", "/_strata/faults")
            try await root.expect(503, "GET", "/bkt/data/a")
            let notRoot = try await alice.expect(403, "DELETE", "/_strata/faults")
            XCTAssertEqual(notRoot.errorCode, "AccessDenied")
            try await root.expect(200, "DELETE", "/_strata/faults")
            try await root.expect(200, "GET", "/bkt/data/a")
        }
    }

    func testProbabilityZeroNeverFiresAndOneAlwaysDoes() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            try await addRules(client, #"[{"id": "never", "operation": "HeadBucket", "probability": 0, "error": {"code": "SlowDown"}}, {"id": "always", "operation": "ListObjectsV2", "probability": 1, "error": {"code": "SlowDown"}}]"#)
            for _ in 0..<5 {
                try await client.expect(200, "HEAD", "/bkt")
                try await client.expect(503, "GET", "/bkt", query: [("list-type", "2")])
            }
            let rules = try await listed(client)
            XCTAssertEqual(rules.map { $0["id"] as? String }, ["never", "always"])
            XCTAssertEqual(rules.map { $0["hits"] as? Int }, [0, 5])
            XCTAssertEqual(rules.map { $0["matched"] as? Int }, [5, 5])
        }
    }

    func testTimeWindowEnds() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            try await addRules(client, #"{"operation": "HeadBucket", "seconds": 0.3, "error": {"code": "SlowDown"}}"#)
            try await client.expect(503, "HEAD", "/bkt")
            try await Task.sleep(for: .milliseconds(400))
            try await client.expect(200, "HEAD", "/bkt")
            let rules = try await listed(client)
            XCTAssertEqual(rules.first?["active"] as? Bool, false)
        }
    }

    func testPutReplacesRulesAndDeleteRemovesOne() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            let added = try await addRules(client, #"[{"latencyMs": 1}, {"id": "b", "latencyMs": 2}]"#)
            let answer = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(added.body)) as? [String: Any])
            XCTAssertEqual(answer["added"] as? [String], ["1", "b"])
            let duplicate = try await addRules(client, #"{"id": "b", "latencyMs": 3}"#, status: 400)
            XCTAssertEqual(duplicate.errorCode, "InvalidArgument")
            try await client.expect(200, "PUT", "/_strata/faults", body: Array(#"{"id": "c", "latencyMs": 4}"#.utf8))
            let replaced = try await listed(client)
            XCTAssertEqual(replaced.map { $0["id"] as? String }, ["c"])
            try await client.expect(200, "DELETE", "/_strata/faults/c")
            let missing = try await client.expect(404, "DELETE", "/_strata/faults/c")
            XCTAssertEqual(missing.errorCode, "NoSuchFaultRule")
            let malformed = try await client.expect(400, "PUT", "/_strata/faults", body: Array(#"{"nope": 1}"#.utf8))
            XCTAssertEqual(malformed.errorCode, "InvalidArgument")
            let left = try await listed(client)
            XCTAssertTrue(left.isEmpty, "a refused document changes nothing")
        }
    }

    func testRulesFromTheConfigurationAreInForceFromTheStart() async throws {
        let rules = try FaultRules.parse(Array(#"{"operation": "ListBuckets", "error": {"code": "InternalError"}}"#.utf8))
        try await S3TestServer.with(configure: { $0.faults = rules }) { server in
            _ = try await S3TestClient(server).expect(500, "GET", "/")
        }
    }

    func testLatencyDelaysTheAnswer() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            try await addRules(client, #"{"operation": "HeadBucket", "latencyMs": 300}"#)
            let start = ContinuousClock.now
            try await client.expect(200, "HEAD", "/bkt")
            XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(300))
        }
    }

    /// 64 KiB at 128 KiB/s each way takes at least half a second (a lower bound only: how
    /// fast it can go is the benchmark's business).
    func testBandwidthCapSlowsBothBodies() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            let body = pattern(7, 64 * 1024)
            try await addRules(client, #"{"bucket": "bkt", "keyPrefix": "slow/", "bandwidth": 131072}"#)
            var start = ContinuousClock.now
            try await client.put("bkt", "slow/a", body)
            XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(450))
            start = ContinuousClock.now
            let get = try await client.expect(200, "GET", "/bkt/slow/a")
            XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(450))
            XCTAssertEqual(get.body, body)
        }
    }

    /// A response cut short: the head says the whole length, exactly `truncateAfterBytes`
    /// of the body arrive, then the connection closes. The object is untouched.
    func testTruncatedResponseSendsExactlyThatManyBytesAndTheObjectStaysWhole() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            let body = pattern(3, 400_000)
            try await client.put("bkt", "big", body)
            try await addRules(client, #"{"operation": "GetObject", "truncateAfterBytes": 100000, "count": 1}"#)
            let signer = TestSigner(accessKey: S3TestServer.accessKey, secret: S3TestServer.secretKey, host: server.host)
            let connection = try RawHTTPClient(port: server.port)
            do {
                _ = try connection.send(signer.sign(method: "GET", path: "/bkt/big"))
                XCTFail("the response should have been cut short")
            } catch RawHTTPClient.Failure.closed(let partial) {
                XCTAssertEqual(partial, Array(body.prefix(100_000)))
            }
            let whole = try await client.expect(200, "GET", "/bkt/big")
            XCTAssertEqual(whole.body, body)
        }
    }

    func testResetMidResponseIsAConnectionReset() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            try await client.put("bkt", "big", pattern(4, 1 << 20))
            try await addRules(client, #"{"operation": "GetObject", "resetAfterBytes": 1000, "count": 1}"#)
            let signer = TestSigner(accessKey: S3TestServer.accessKey, secret: S3TestServer.secretKey, host: server.host)
            let connection = try RawHTTPClient(port: server.port)
            // Give the reset time to arrive before reading (a read racing it sees the
            // bytes sent first, then ECONNRESET; an EOF would be a clean close).
            try connection.sendRaw(RawHTTPClient.head(method: "GET", path: "/bkt/big",
                                                       headers: signer.sign(method: "GET", path: "/bkt/big").headers))
            try await Task.sleep(for: .milliseconds(300))
            XCTAssertThrowsError(try connection.readUntilClose()) { error in
                guard case RawHTTPClient.Failure.socket("recv", let code) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(code, ECONNRESET)
            }
            let whole = try await client.expect(200, "GET", "/bkt/big")
            XCTAssertEqual(whole.body, pattern(4, 1 << 20))
        }
    }

    /// A reset while the request body arrives fails the upload before its commit: nothing
    /// is stored, and the next PUT of the same key is a normal one.
    func testResetMidUploadStoresNothing() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            try await addRules(client, #"{"operation": "PutObject", "resetAfterRequestBytes": 10000, "count": 1}"#)
            let body = pattern(5, 300_000)
            do {
                try await client.put("bkt", "k", body)
                XCTFail("the upload should have been reset")
            } catch {}
            try await client.expect(404, "HEAD", "/bkt/k")
            try await client.put("bkt", "k", body)
            let stored = try await client.expect(200, "GET", "/bkt/k")
            XCTAssertEqual(stored.body, body)
        }
    }
}
