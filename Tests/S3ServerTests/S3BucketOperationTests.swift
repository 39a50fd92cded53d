import Foundation
import XCTest
@testable import S3Server

/// Bucket operations through a real server over a socket: ListBuckets, CreateBucket,
/// HeadBucket, DeleteBucket and GetBucketLocation, as the S3 API reference describes them.
final class S3BucketOperationTests: XCTestCase {
    static func isISO8601(_ text: String) -> Bool {
        text.wholeMatch(of: #/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/#) != nil
    }

    static func createConfiguration(_ region: String) -> [UInt8] {
        bytes(#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#
              + "<LocationConstraint>\(region)</LocationConstraint></CreateBucketConfiguration>")
    }

    // MARK: ListBuckets

    /// ListBuckets: `ListAllMyBucketsResult` with the Owner (ID, DisplayName) and every
    /// bucket by name, in name order, with an ISO 8601 CreationDate.
    func testListBucketsShowsOwnerAndBucketsInNameOrderWithISO8601CreationDates() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            let before = Date().addingTimeInterval(-2)
            for name in ["zeta-bucket", "alpha-bucket", "mid.bucket"] { try await client.createBucket(name) }
            let response = try await client.call("GET", "/")
            XCTAssertEqual(response.status, 200, response.bodyString)
            let xml = try response.xml()
            XCTAssertEqual(xml.name, "ListAllMyBucketsResult")
            XCTAssertEqual(xml.namespace, "http://s3.amazonaws.com/doc/2006-03-01/")
            XCTAssertFalse(xml.text("Owner", "ID")?.isEmpty ?? true)
            XCTAssertEqual(xml.text("Owner", "DisplayName"), S3TestServer.accessKey)
            XCTAssertEqual(xml.texts("Buckets", "Bucket", "Name"), ["alpha-bucket", "mid.bucket", "zeta-bucket"])
            let dates = xml.texts("Buckets", "Bucket", "CreationDate")
            XCTAssertEqual(dates.count, 3)
            let parser = ISO8601DateFormatter()
            parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            for text in dates {
                XCTAssertTrue(S3BucketOperationTests.isISO8601(text), text)
                let date = try XCTUnwrap(parser.date(from: text), text)
                XCTAssertTrue(date >= before && date <= Date().addingTimeInterval(2), text)
            }
        }
    }

    /// ListBuckets with no buckets: an empty `<Buckets/>`, still with the Owner.
    func testListBucketsWithNoBucketsIsEmpty() async throws {
        try await S3TestServer.with { server in
            let response = try await S3TestClient(server).call("GET", "/")
            XCTAssertEqual(response.status, 200)
            let xml = try response.xml()
            XCTAssertNotNil(xml.child("Owner"))
            XCTAssertNotNil(xml.child("Buckets"))
            XCTAssertEqual(xml.texts("Buckets", "Bucket", "Name"), [])
        }
    }

    // MARK: CreateBucket

    /// CreateBucket without a body: 200 with `Location: /bucket`; the bucket is in us-east-1.
    func testCreateBucketWithoutBodyAnswersLocationHeader() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            let response = try await client.call("PUT", "/plain-bucket")
            XCTAssertEqual(response.status, 200, response.bodyString)
            XCTAssertEqual(response.header("Location"), "/plain-bucket")
            let head = try await client.call("HEAD", "/plain-bucket")
            XCTAssertEqual(head.status, 200)
            XCTAssertEqual(head.header("x-amz-bucket-region"), "us-east-1")
        }
    }

    /// CreateBucket with a CreateBucketConfiguration naming a LocationConstraint: the
    /// bucket reports that region (HeadBucket's x-amz-bucket-region, GetBucketLocation).
    func testCreateBucketWithLocationConstraintRecordsRegion() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            let response = try await client.call("PUT", "/eu-bucket", body: Self.createConfiguration("eu-west-1"))
            XCTAssertEqual(response.status, 200, response.bodyString)
            let head = try await client.call("HEAD", "/eu-bucket")
            XCTAssertEqual(head.header("x-amz-bucket-region"), "eu-west-1")
            let location = try await client.call("GET", "/eu-bucket", query: [("location", nil)])
            XCTAssertEqual(location.status, 200)
            let xml = try location.xml()
            XCTAssertEqual(xml.name, "LocationConstraint")
            XCTAssertEqual(xml.text, "eu-west-1")
        }
    }

    /// A configuration with an empty LocationConstraint (or none) means us-east-1.
    func testCreateBucketWithEmptyConfigurationIsUSEast1() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            let empty = bytes(#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#)
            let response = try await client.call("PUT", "/empty-config", body: empty)
            XCTAssertEqual(response.status, 200, response.bodyString)
            let head = try await client.call("HEAD", "/empty-config")
            XCTAssertEqual(head.header("x-amz-bucket-region"), "us-east-1")
        }
    }

    /// A CreateBucket body that is not well-formed XML, or has another root element, is
    /// 400 MalformedXML, and no bucket is created.
    func testCreateBucketWithMalformedBodyIsMalformedXML() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            for body in ["<CreateBucketConfiguration><LocationConstraint>eu-west-1</CreateBucketConfiguration>",
                         "not xml at all",
                         "<Delete><Object><Key>a</Key></Object></Delete>"] {
                let response = try await client.call("PUT", "/bad-body-bucket", body: bytes(body))
                XCTAssertEqual(response.status, 400, body)
                XCTAssertEqual(response.errorCode, "MalformedXML", body)
            }
            let head = try await client.call("HEAD", "/bad-body-bucket")
            XCTAssertEqual(head.status, 404)
        }
    }

    /// Bucket naming rules: 3–63 characters of lowercase letters, digits, dots and
    /// hyphens, starting and ending with a letter or digit, no `..`, not an IP address.
    /// Anything else is 400 InvalidBucketName.
    func testCreateBucketWithInvalidNameIsInvalidBucketName() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            let invalid = ["ab", String(repeating: "a", count: 64), "Upper-Case", "under_score", "-leading",
                           "trailing-", "double..dot", "192.168.5.4", "has space", "dot.-hyphen"]
            for name in invalid {
                let response = try await client.call("PUT", S3Path.encode(bucket: name))
                XCTAssertEqual(response.status, 400, name)
                XCTAssertEqual(response.errorCode, "InvalidBucketName", name)
            }
            let list = try await client.call("GET", "/")
            XCTAssertEqual(try list.xml().texts("Buckets", "Bucket", "Name"), [])
            for name in ["abc", String(repeating: "a", count: 63), "my.dotted-bucket.1"] {
                let response = try await client.call("PUT", S3Path.encode(bucket: name))
                XCTAssertEqual(response.status, 200, name)
            }
        }
    }

    /// Creating a bucket you already own outside us-east-1 is 409 BucketAlreadyOwnedByYou,
    /// as every region but us-east-1 answers.
    func testCreateExistingBucketOutsideUsEast1IsBucketAlreadyOwnedByYou() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            let configuration = bytes("<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>")
            try await client.expect(200, "PUT", "/twice", body: configuration)
            let response = try await client.call("PUT", "/twice", body: configuration)
            XCTAssertEqual(response.status, 409)
            XCTAssertEqual(response.errorCode, "BucketAlreadyOwnedByYou")
            XCTAssertEqual(try response.xml().child("BucketName")?.text, "twice")
        }
    }

    /// S3's legacy us-east-1 rule: its owner creating a bucket that exists there gets 200,
    /// and the bucket is unchanged (its objects, its ACL, its creation date).
    func testCreateExistingOwnBucketInUsEast1Is200AndChangesNothing() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.expect(200, "PUT", "/twice", headers: [("x-amz-acl", "public-read")])
            try await client.put("twice", "k", bytes("kept"))
            let before = try await client.expect(200, "GET", "/").xml().texts("Buckets", "Bucket", "CreationDate")
            let again = try await client.expect(200, "PUT", "/twice")
            XCTAssertEqual(again.header("Location"), "/twice")
            let after = try await client.expect(200, "GET", "/").xml().texts("Buckets", "Bucket", "CreationDate")
            XCTAssertEqual(after, before)
            let acl = try await client.expect(200, "GET", "/twice", query: [("acl", nil)]).xml()
            XCTAssertEqual(acl.texts("AccessControlList", "Grant", "Grantee", "URI"), ["http://acs.amazonaws.com/groups/global/AllUsers"],
                           "the ACL the bucket was created with stays")
            await assertEqual(try await client.expect(200, "GET", "/twice/k").body, bytes("kept"))
        }
    }

    // MARK: HeadBucket

    /// HeadBucket: 200 with x-amz-bucket-region for a bucket that exists; 404 with no
    /// body for one that does not.
    func testHeadBucketIs200WithRegionOr404() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("headed")
            let found = try await client.call("HEAD", "/headed")
            XCTAssertEqual(found.status, 200)
            XCTAssertEqual(found.header("x-amz-bucket-region"), "us-east-1")
            XCTAssertEqual(found.body, [])
            let missing = try await client.call("HEAD", "/no-such-bucket")
            XCTAssertEqual(missing.status, 404)
            XCTAssertEqual(missing.body, [])
            // The connection stays usable after a HEAD error (no stray body bytes).
            let again = try await client.call("HEAD", "/headed")
            XCTAssertEqual(again.status, 200)
        }
    }

    // MARK: DeleteBucket

    /// DeleteBucket: 204 for an empty bucket, which is then gone.
    func testDeleteEmptyBucketIs204AndBucketIsGone() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("doomed")
            let response = try await client.call("DELETE", "/doomed")
            XCTAssertEqual(response.status, 204)
            try await client.expect(404, "HEAD", "/doomed")
            let list = try await client.call("GET", "/")
            XCTAssertEqual(try list.xml().texts("Buckets", "Bucket", "Name"), [])
        }
    }

    /// DeleteBucket on a bucket holding an object: 409 BucketNotEmpty, bucket kept; once
    /// emptied it deletes.
    func testDeleteNonEmptyBucketIsBucketNotEmpty() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("full")
            try await client.put("full", "object", bytes("x"))
            let response = try await client.call("DELETE", "/full")
            XCTAssertEqual(response.status, 409)
            XCTAssertEqual(response.errorCode, "BucketNotEmpty")
            try await client.expect(200, "HEAD", "/full")
            try await client.expect(204, "DELETE", "/full/object")
            try await client.expect(204, "DELETE", "/full")
        }
    }

    /// DeleteBucket on a bucket that does not exist: 404 NoSuchBucket naming it.
    func testDeleteMissingBucketIsNoSuchBucket() async throws {
        try await S3TestServer.with { server in
            let response = try await S3TestClient(server).call("DELETE", "/never-created")
            XCTAssertEqual(response.status, 404)
            XCTAssertEqual(response.errorCode, "NoSuchBucket")
            XCTAssertEqual(try response.xml().child("BucketName")?.text, "never-created")
        }
    }

    // MARK: GetBucketLocation

    /// GetBucketLocation: an empty LocationConstraint for us-east-1 (S3's historical
    /// answer), the region otherwise; 404 NoSuchBucket for a missing bucket.
    func testGetBucketLocationIsEmptyForUSEast1AndTheConstraintOtherwise() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("east-bucket")
            let east = try await client.call("GET", "/east-bucket", query: [("location", nil)])
            XCTAssertEqual(east.status, 200)
            let eastXML = try east.xml()
            XCTAssertEqual(eastXML.name, "LocationConstraint")
            XCTAssertEqual(eastXML.text, "")

            let created = try await client.call("PUT", "/tokyo-bucket", body: Self.createConfiguration("ap-northeast-1"))
            XCTAssertEqual(created.status, 200)
            let tokyo = try await client.call("GET", "/tokyo-bucket", query: [("location", nil)])
            XCTAssertEqual(try tokyo.xml().text, "ap-northeast-1")

            let missing = try await client.call("GET", "/no-bucket-here", query: [("location", nil)])
            XCTAssertEqual(missing.status, 404)
            XCTAssertEqual(missing.errorCode, "NoSuchBucket")
        }
    }
}
