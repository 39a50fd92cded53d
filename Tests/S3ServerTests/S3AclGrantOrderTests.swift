import Foundation
import XCTest
@testable import S3Server

/// The order of the grants GetBucketAcl and GetObjectAcl list for a canned ACL.
///
/// AWS lists the owner's FULL_CONTROL grant first, then the group grants the canned ACL
/// adds. Evidence: LocalStack's snapshot tests recorded against AWS
/// (`tests/aws/services/s3/test_s3.snapshot.json`, `TestS3::test_s3_bucket_acl`
/// "get-bucket-acl" for `public-read` and `TestS3::test_s3_multipart_upload_acls`
/// "bucket-acl" / "permission-acl-key2" for `public-read` and `public-read-write`, recorded
/// 2023-08-03), and the AWS CLI's own `s3api get-object-acl` example (owner's
/// FULL_CONTROL, then AllUsers READ).
final class S3AclGrantOrderTests: XCTestCase {
    static let aclQuery: [(name: String, value: String?)] = [("acl", nil)]
    static let allUsers = "http://acs.amazonaws.com/groups/global/AllUsers"

    /// Each grant as "grantee permission", in document order.
    static func grants(_ response: HTTPResponse) throws -> [String] {
        try response.xml().nodes(["AccessControlList", "Grant"][...]).map { grant in
            let grantee = grant.child("Grantee")
            let who = grantee?.child("ID")?.text ?? grantee?.child("URI")?.text ?? "?"
            return "\(who) \(grant.child("Permission")?.text ?? "?")"
        }
    }

    func testCannedACLGrantsListTheOwnerBeforeTheGroupsAsAWSDoes() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.expect(200, "PUT", "/ordered", headers: [("x-amz-acl", "public-read")])
            let ownerId = try await client.expect(200, "GET", "/ordered", query: Self.aclQuery).xml().text("Owner", "ID") ?? ""
            XCTAssertFalse(ownerId.isEmpty)
            await assertEqual(try Self.grants(try await client.expect(200, "GET", "/ordered", query: Self.aclQuery)),
                              ["\(ownerId) FULL_CONTROL", "\(Self.allUsers) READ"])

            try await client.expect(200, "PUT", "/ordered", query: Self.aclQuery, headers: [("x-amz-acl", "public-read-write")])
            await assertEqual(try Self.grants(try await client.expect(200, "GET", "/ordered", query: Self.aclQuery)),
                              ["\(ownerId) FULL_CONTROL", "\(Self.allUsers) READ", "\(Self.allUsers) WRITE"])

            try await client.expect(200, "PUT", "/ordered/k", headers: [("x-amz-acl", "public-read")], body: [1])
            await assertEqual(try Self.grants(try await client.expect(200, "GET", "/ordered/k", query: Self.aclQuery)),
                              ["\(ownerId) FULL_CONTROL", "\(Self.allUsers) READ"])
        }
    }
}
