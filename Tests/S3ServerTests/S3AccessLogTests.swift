import Logging
import NIOConcurrencyHelpers
import NIOHTTP1
import XCTest
@testable import S3Server

/// The access log as an operator reads it after something went wrong: every 4xx/5xx line
/// names the S3 error code, and every line names the access key that was tried, also
/// when the signature did not check out (`-` when the request was anonymous).
final class S3AccessLogTests: XCTestCase {
    /// Runs `body` against a server whose access log lands in the returned lines.
    private func withLoggedServer(_ body: (S3TestServer) async throws -> Void) async throws -> [String] {
        let lines = NIOLockedValueBox<[String]>([])
        let handler = LineLogHandler(label: "strata.s3", format: .human, level: .info, sink: LineSink { line in
            lines.withLockedValue { $0.append(line) }
        })
        let logger = Logger(label: "strata.s3") { _ in handler }
        try await S3TestServer.with(logger: logger, configure: { $0.accessLog = true }, body)
        return lines.withLockedValue { $0 }
    }

    private func line(_ lines: [String], _ prefix: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try XCTUnwrap(lines.first { $0.contains(" info \(prefix) ") }, "no access log line for \(prefix) in \(lines)",
                      file: file, line: line)
    }

    func testErrorLinesCarryTheS3ErrorCode() async throws {
        let lines = try await withLoggedServer { server in
            let client = S3TestClient(server)
            try await client.createBucket("logged")
            try await client.expect(404, "GET", "/logged/missing")
            try await client.expect(404, "HEAD", "/logged/missing")
            try await client.expect(404, "GET", "/nobucket")
            try await client.expect(200, "GET", "/logged")
        }
        XCTAssertTrue(try line(lines, "GET /logged/missing 404").contains(" error=NoSuchKey"))
        // A HEAD answer has no body: the code still reaches the log.
        XCTAssertTrue(try line(lines, "HEAD /logged/missing 404").contains(" error=NoSuchKey"))
        XCTAssertTrue(try line(lines, "GET /nobucket 404").contains(" error=NoSuchBucket"))
        XCTAssertFalse(try line(lines, "GET /logged 200").contains(" error="))
    }

    func testEveryLineNamesTheAccessKeyTriedEvenWhenRefused() async throws {
        let lines = try await withLoggedServer { server in
            try await S3TestClient(server).createBucket("keys")
            let wrongSecret = S3TestClient(server, credentials: (S3TestServer.accessKey, "not-the-secret"))
            try await wrongSecret.expect(403, "GET", "/keys")
            let unknownKey = S3TestClient(server, credentials: ("AKIAUNKNOWN000000000", "whatever"))
            try await unknownKey.expect(403, "PUT", "/keys/k", body: [1, 2, 3])
            try await S3TestClient(server, credentials: nil).expect(403, "DELETE", "/keys")
        }
        let refused = try line(lines, "GET /keys 403")
        XCTAssertTrue(refused.contains(" access_key=\(S3TestServer.accessKey)"), refused)
        XCTAssertTrue(refused.contains(" error=SignatureDoesNotMatch"), refused)
        let unknown = try line(lines, "PUT /keys/k 403")
        XCTAssertTrue(unknown.contains(" access_key=AKIAUNKNOWN000000000"), unknown)
        XCTAssertTrue(unknown.contains(" error=InvalidAccessKeyId"), unknown)
        let anonymous = try line(lines, "DELETE /keys 403")
        XCTAssertTrue(anonymous.contains(" access_key=-"), anonymous)
        XCTAssertTrue(anonymous.contains(" error=AccessDenied"), anonymous)
        XCTAssertTrue(try line(lines, "PUT /keys 200").contains(" access_key=\(S3TestServer.accessKey)"))
    }

    func testTheClaimedKeyIsReadFromSigV4SigV2AndPresignedRequests() {
        func head(_ uri: String, authorization: String? = nil) -> HTTPRequestHead {
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: uri)
            if let authorization { head.headers.add(name: "Authorization", value: authorization) }
            return head
        }
        XCTAssertEqual(S3RequestHandler.claimedAccessKey(head("/b", authorization:
            "AWS4-HMAC-SHA256 Credential=AKIAV4/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00")), "AKIAV4")
        XCTAssertEqual(S3RequestHandler.claimedAccessKey(head("/b", authorization: "AWS AKIAV2:c2lnbmF0dXJl")), "AKIAV2")
        XCTAssertEqual(S3RequestHandler.claimedAccessKey(head("/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAPRE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request")), "AKIAPRE")
        XCTAssertEqual(S3RequestHandler.claimedAccessKey(head("/b/k?AWSAccessKeyId=AKIAQ2&Signature=x&Expires=1")), "AKIAQ2")
        XCTAssertNil(S3RequestHandler.claimedAccessKey(head("/b/k?list-type=2")))
    }
}
