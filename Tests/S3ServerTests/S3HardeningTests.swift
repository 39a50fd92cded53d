import XCTest
@testable import S3Server

/// Client-controlled numbers that once could trap the server (an integer overflow is a
/// crash in Swift, also in release builds): each is now an ordinary answer.
final class S3HardeningTests: XCTestCase {
    func testHugeYearInAnHTTPDateIsRejectedNotOverflowed() {
        XCTAssertNil(AmzDate.parseHTTPDate("Mon, 01 Jan 99999999999999999 00:00:00 GMT"))
        XCTAssertNil(AmzDate.parseHTTPDate("Mon, 01 Jan 2020 00:00:00 +99999999999999"))
        XCTAssertNotNil(AmzDate.parseHTTPDate("Mon, 01 Jan 2020 00:00:00 GMT"))
    }

    func testRangeEndingAtUInt64MaxClampsToTheObject() {
        XCTAssertEqual(ByteRange.parse("bytes=0-18446744073709551615", size: 10), .satisfiable(0..<10))
        XCTAssertEqual(ByteRange.parse("bytes=3-", size: 10), .satisfiable(3..<10))
        XCTAssertEqual(ByteRange.parse("bytes=10-18446744073709551615", size: 10), .unsatisfiable)
    }

    func testLifecycleDaysAreBounded() {
        let document = bytes("<LifecycleConfiguration><Rule><Filter><Prefix></Prefix></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload>"
                             + "<DaysAfterInitiation>999999999999</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>")
        XCTAssertThrowsError(try LifecycleConfiguration.parse(document)) { error in
            XCTAssertEqual((error as? S3Error)?.code, "InvalidArgument")
        }
    }

    /// A bucket name longer than any bucket can have is InvalidBucketName, not a trap in
    /// the index's key encoding.
    func testOverlongBucketNameInThePathIsAnError() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            let response = try await client.call("GET", "/" + String(repeating: "a", count: 300) + "/key")
            XCTAssertEqual(response.status, 400)
            XCTAssertEqual(response.errorCode, "InvalidBucketName")
            let copy = try await client.call("PUT", "/bkt/k", headers: [("x-amz-copy-source", String(repeating: "b", count: 300) + "/x")])
            XCTAssertEqual(copy.errorCode == "InvalidBucketName" || copy.errorCode == "NoSuchBucket", true, copy.bodyString)
        }
    }
}
