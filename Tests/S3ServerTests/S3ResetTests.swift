import Foundation
import XCTest
@testable import S3Server

/// `POST /_strata/reset` (what `strata reset --server` calls): every bucket goes, the
/// bucket settings the server cached go with them, users stay, only the root may ask.
final class S3ResetTests: XCTestCase {
    func testResetEmptiesTheStoreAndForgetsCachedBucketSettings() async throws {
        try await S3TestServer.with(configure: {
            $0.users = try! UserDirectory(root: $0.credentials, usersFile: "alice-key alice-secret alice-id Alice\n")
        }) { server in
            let root = S3TestClient(server)
            let anonymous = S3TestClient(server, credentials: nil)
            try await root.createBucket("pub")
            try await root.put("pub", "k", bytes("public"))
            let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*"}]}"#
            try await root.expect(204, "PUT", "/pub", query: [("policy", nil)], body: bytes(policy))
            // Read once anonymously: the policy is now in the server's settings cache.
            try await anonymous.expect(200, "GET", "/pub/k")

            let alice = S3TestClient(server, credentials: ("alice-key", "alice-secret"))
            let refused = try await alice.expect(403, "POST", "/_strata/reset")
            XCTAssertEqual(refused.errorCode, "AccessDenied")
            try await root.expect(200, "GET", "/pub/k")

            let answer = try await root.expect(200, "POST", "/_strata/reset")
            XCTAssertEqual(answer.header("Content-Type"), "application/json")
            XCTAssertEqual(answer.bodyString, #"{"reset":true}"#)
            let list = try await root.expect(200, "GET", "/")
            XCTAssertEqual(try list.xml().texts("Buckets", "Bucket", "Name"), [])
            try await root.expect(404, "GET", "/pub/k")

            // The same name again, without a policy: the cached one must not apply.
            try await root.createBucket("pub")
            try await root.put("pub", "k", bytes("private"))
            try await anonymous.expect(403, "GET", "/pub/k")
            // Users are kept.
            try await alice.expect(200, "PUT", "/alices-bucket")
        }
    }
}
