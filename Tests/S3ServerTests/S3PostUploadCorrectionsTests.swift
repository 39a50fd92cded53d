import Foundation
import XCTest
@testable import S3Server

/// Browser form (POST) uploads where S3 reads the form before checking the policy:
/// `${filename}` in the key, and checksum fields that need no policy condition.
final class S3PostUploadCorrectionsTests: XCTestCase {
    /// S3 puts the file's name in place of `${filename}` in the `key` field before it checks
    /// the policy, so conditions see the key the object gets. Matches ceph's s3-tests
    /// `test_post_object_set_key_from_filename` (key `${filename}`, condition
    /// `["starts-with", "$key", "foo"]`, file `foo.txt`: 204, stored as `foo.txt`).
    func testPostKeyFilenameIsSubstitutedBeforeThePolicyIsChecked() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("forms")
            let fields = S3BrowserTests.signedFields(bucket: "forms", key: "${filename}",
                                                     extraConditions: [#"["starts-with", "$key", "foo"]"#])
            let stored = try await S3BrowserTests.post(client, "forms",
                                                       S3BrowserTests.postForm(fields: fields, file: bytes("bar"), filename: "foo.txt"))
            XCTAssertEqual(stored.status, 204, stored.bodyString)
            await assertEqual(try await client.expect(200, "GET", "/forms/foo.txt").body, bytes("bar"))

            // An exact condition on the key is met by the substituted key too.
            let exact = S3BrowserTests.signedFields(bucket: "forms", key: "uploads/${filename}",
                                                    extraConditions: [#"{"key": "uploads/photo.png"}"#])
            let exactStored = try await S3BrowserTests.post(client, "forms",
                                                            S3BrowserTests.postForm(fields: exact, file: [1, 2]))
            XCTAssertEqual(exactStored.status, 204, exactStored.bodyString)
            try await client.expect(200, "HEAD", "/forms/uploads/photo.png")

            // A file whose name takes the key out of the allowed prefix is refused, and
            // nothing is stored.
            let refused = try await S3BrowserTests.post(client, "forms",
                                                        S3BrowserTests.postForm(fields: fields, file: bytes("x"), filename: "bar.txt"))
            XCTAssertEqual(refused.status, 403, refused.bodyString)
            XCTAssertEqual(refused.errorCode, "AccessDenied")
            try await client.expect(404, "HEAD", "/forms/bar.txt")
            try await client.expect(404, "HEAD", "/forms/${filename}")
        }
    }

    /// S3 lets a form carry an `x-amz-checksum-*` field for any of its five algorithms
    /// without a policy condition naming it, verifies it against the file as for a PUT
    /// (BadDigest on a mismatch, nothing stored), stores it, and returns it like a PUT's.
    func testPostChecksumFieldsNeedNoPolicyConditionAndAreVerifiedLikeAPut() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("forms")
            let file = bytes("checksummed by the browser")
            for algorithm in ChecksumAlgorithm.allCases {
                let key = "good-\(algorithm.rawValue)"
                let value = Data(ChecksumHasher.digest(algorithm, of: file)).base64EncodedString()
                let fields = S3BrowserTests.signedFields(bucket: "forms", key: key) + [(algorithm.headerName, value)]
                let stored = try await S3BrowserTests.post(client, "forms", S3BrowserTests.postForm(fields: fields, file: file))
                XCTAssertEqual(stored.status, 204, "\(algorithm): \(stored.bodyString)")
                XCTAssertEqual(stored.header(algorithm.headerName), value, "\(algorithm)")
                XCTAssertEqual(stored.header("x-amz-checksum-type"), "FULL_OBJECT", "\(algorithm)")
                let head = try await client.expect(200, "HEAD", "/forms/\(key)", headers: [("x-amz-checksum-mode", "ENABLED")])
                XCTAssertEqual(head.header(algorithm.headerName), value, "\(algorithm)")

                let wrongKey = "bad-\(algorithm.rawValue)"
                let wrong = Data(ChecksumHasher.digest(algorithm, of: [1])).base64EncodedString()
                let badFields = S3BrowserTests.signedFields(bucket: "forms", key: wrongKey) + [(algorithm.headerName, wrong)]
                let refused = try await S3BrowserTests.post(client, "forms", S3BrowserTests.postForm(fields: badFields, file: file))
                XCTAssertEqual(refused.status, 400, "\(algorithm): \(refused.bodyString)")
                XCTAssertEqual(refused.errorCode, "BadDigest", "\(algorithm)")
                try await client.expect(404, "HEAD", "/forms/\(wrongKey)")
            }
            // Other fields still need a condition.
            let extra = S3BrowserTests.signedFields(bucket: "forms", key: "meta") + [("x-amz-meta-color", "red")]
            let refused = try await S3BrowserTests.post(client, "forms", S3BrowserTests.postForm(fields: extra, file: file))
            XCTAssertEqual(refused.errorCode, "AccessDenied", refused.bodyString)
            try await client.expect(404, "HEAD", "/forms/meta")
        }
    }
}
