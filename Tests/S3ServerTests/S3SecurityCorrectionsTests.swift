import Foundation
import XCTest
@testable import S3Server

/// Requests S3 refuses because they would reach more than their signer or sender meant:
/// a copy-source version id that does not decode, headers outside the signature, a
/// presigned URL valid for no time, a signature for another region, reserved bucket
/// names, a bucket owned by someone other than the caller expects. Each test is named for
/// the AWS behaviour it matches, and checks that the refused request changed nothing.
final class S3SecurityCorrectionsTests: S3WireTestCase {
    // MARK: - x-amz-copy-source version ids

    /// S3: a `versionId` in `x-amz-copy-source` that does not percent-decode (a broken
    /// escape, or bytes that are not UTF-8) is a malformed version id, 400 InvalidArgument,
    /// for CopyObject and UploadPartCopy alike; it is never read as "no version" (which
    /// would copy the current version instead of the one asked for). Nothing is created.
    func testCopySourceVersionIdThatDoesNotDecodeIsInvalidArgumentAndCopiesNothing() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bucket")
            try await client.put("bucket", "source", Array("current version".utf8))
            for badVersion in ["%zz", "%C3%28", "abc%", "%E0%A4%A"] {
                let copy = try await client.call("PUT", "/bucket/copy",
                                                 headers: [("x-amz-copy-source", "/bucket/source?versionId=\(badVersion)")])
                self.assertS3Error(copy, status: 400, code: "InvalidArgument")
                try await client.expect(404, "HEAD", "/bucket/copy", message: "a refused copy creates nothing (\(badVersion))")

                let upload = try await client.expect(200, "POST", "/bucket/part-copy", query: [("uploads", nil)])
                let uploadId = try XCTUnwrap(try upload.xml().text("UploadId"))
                let part = try await client.call("PUT", "/bucket/part-copy",
                                                 query: [("partNumber", "1"), ("uploadId", uploadId)],
                                                 headers: [("x-amz-copy-source", "bucket/source?versionId=\(badVersion)")])
                self.assertS3Error(part, status: 400, code: "InvalidArgument")
                let parts = try await client.expect(200, "GET", "/bucket/part-copy", query: [("uploadId", uploadId)])
                XCTAssertEqual(try parts.xml().texts("Part", "PartNumber"), [], "no part was stored (\(badVersion))")
            }
        }
    }

    /// S3: a well-formed version id that names no version of the source is 404
    /// NoSuchVersion, and the copy is not made.
    func testCopySourceUnknownVersionIdIsNoSuchVersion() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bucket")
            try await client.expect(200, "PUT", "/bucket", query: [("versioning", nil)],
                                    body: Array("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>".utf8))
            try await client.put("bucket", "source", Array("current version".utf8))
            let unknown = String(repeating: "A", count: 32)
            let copy = try await client.call("PUT", "/bucket/copy",
                                             headers: [("x-amz-copy-source", "/bucket/source?versionId=\(unknown)")])
            self.assertS3Error(copy, status: 404, code: "NoSuchVersion")
            try await client.expect(404, "HEAD", "/bucket/copy")
        }
    }
}
