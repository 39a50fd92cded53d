import NIOHTTP1
import XCTest
@testable import S3Server

/// The router: a request becomes one typed ``S3Operation`` with its parameters parsed,
/// or the S3 error of the first malformed one.
final class S3OperationTests: XCTestCase {
    private func route(_ method: HTTPMethod, _ uri: String, headers: [(String, String)] = []) throws -> S3Operation {
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: HTTPHeaders(headers))
        return try S3Operation(try S3Request(head: head, domain: nil))
    }

    private func assertError(_ method: HTTPMethod, _ uri: String, headers: [(String, String)] = [], code: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try route(method, uri, headers: headers), file: file, line: line) { error in
            XCTAssertEqual((error as? S3Error)?.code, code, "\(error)", file: file, line: line)
        }
    }

    func testObjectOperationsCarryTheirAddress() throws {
        guard case .getObject(let object, let part) = try route(.GET, "/bkt/a/b%2Bc?versionId=null&partNumber=2") else {
            return XCTFail("not GetObject")
        }
        XCTAssertEqual(object, ObjectAddress(bucket: "bkt", key: "a/b+c", versionId: ""))
        XCTAssertEqual(part, 2)
        XCTAssertEqual(try route(.HEAD, "/bkt/k").name, "HeadObject")
        XCTAssertEqual(try route(.PUT, "/bkt/k").name, "PutObject")
        XCTAssertEqual(try route(.DELETE, "/bkt/k?tagging").name, "DeleteObjectTagging")
    }

    func testCopySourceIsParsedByTheRouter() throws {
        let copy = try route(.PUT, "/bkt/k", headers: [("x-amz-copy-source", "/src/some%20key?versionId=null")])
        guard case .copyObject(let object, let source) = copy else { return XCTFail("not CopyObject") }
        XCTAssertEqual(object.key, "k")
        XCTAssertEqual([source.bucket, source.key, source.versionId], ["src", "some key", ""])
        let part = try route(.PUT, "/bkt/k?partNumber=3&uploadId=U", headers: [("x-amz-copy-source", "src/x")])
        guard case .uploadPartCopy(let upload, 3, let partSource) = part else { return XCTFail("not UploadPartCopy") }
        XCTAssertEqual(upload, UploadAddress(bucket: "bkt", key: "k", uploadId: "U"))
        XCTAssertEqual(partSource.key, "x")
        assertError(.PUT, "/bkt/k", headers: [("x-amz-copy-source", "nokey")], code: "InvalidArgument")
        // Only a PUT reads the header.
        XCTAssertEqual(try route(.GET, "/bkt/k", headers: [("x-amz-copy-source", "nokey")]).name, "GetObject")
    }

    func testListingParametersAreParsedByTheRouter() throws {
        guard case .listObjectsV2(let bucket, let v2) = try route(.GET, "/bkt?list-type=2&max-keys=5000&prefix=p&delimiter=&fetch-owner=true")
        else { return XCTFail("not ListObjectsV2") }
        XCTAssertEqual(bucket, "bkt")
        XCTAssertEqual(v2.list.maxKeys, 1000)
        XCTAssertEqual(v2.list.prefix, "p")
        XCTAssertNil(v2.list.delimiter)
        XCTAssertTrue(v2.fetchOwner)
        XCTAssertEqual(try route(.GET, "/bkt").name, "ListObjects")
        assertError(.GET, "/bkt?max-keys=-1", code: "InvalidArgument")
        assertError(.GET, "/bkt?encoding-type=xml", code: "InvalidArgument")
        assertError(.GET, "/bkt?versions&version-id-marker=x", code: "InvalidArgument")
        assertError(.GET, "/bkt/k?uploadId=U&max-parts=x", code: "InvalidArgument")
    }

    func testAddressesAreValidatedOnEveryObjectOperation() {
        assertError(.GET, "/" + String(repeating: "b", count: 64), code: "InvalidBucketName")
        assertError(.GET, "/bkt/" + String(repeating: "k", count: 1025), code: "KeyTooLongError")
        assertError(.PUT, "/bkt/k?versionId=bogus", code: "InvalidArgument")
        assertError(.PUT, "/bkt/k?partNumber=0&uploadId=U", code: "InvalidArgument")
        assertError(.GET, "/bkt/k?partNumber=10001", code: "InvalidArgument")
    }

    func testUnknownOperationsAreNotImplemented() {
        assertError(.GET, "/bkt?torrent", code: "NotImplemented")
        assertError(.POST, "/bkt?website", code: "NotImplemented")
        assertError(.POST, "/bkt/k", code: "NotImplemented")
        assertError(.PUT, "/", code: "NotImplemented")
        assertError(.GET, "/_strata/other", code: "NotImplemented")
    }

    /// The IAM action a policy sees names the version when one is addressed.
    func testAccessRulesNameVersionActions() throws {
        XCTAssertEqual(try route(.GET, "/bkt/k").accessRule.action, "s3:GetObject")
        XCTAssertEqual(try route(.GET, "/bkt/k?versionId=null").accessRule.action, "s3:GetObjectVersion")
        XCTAssertEqual(try route(.DELETE, "/bkt/k?versionId=null").accessRule.action, "s3:DeleteObjectVersion")
        XCTAssertEqual(try route(.PUT, "/bkt/k?versionId=null").accessRule.action, "s3:PutObject")
        XCTAssertEqual(try route(.GET, "/bkt/k?uploadId=U").accessRule.need, .uploadParty)
    }
}
