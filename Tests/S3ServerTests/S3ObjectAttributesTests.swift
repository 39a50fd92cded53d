import Foundation
import ObjectStore
import StrataTestSupport
import XCTest
@testable import S3Server

/// GetObjectAttributes (AWS API reference: the attributes `x-amz-object-attributes` asks
/// for, parts paged by `x-amz-max-parts` and `x-amz-part-number-marker`) and conditional
/// writes with an ETag list (RFC 9110 If-None-Match, as S3 applies it to PutObject and
/// CompleteMultipartUpload).
final class S3ObjectAttributesTests: XCTestCase {
    static func code(_ response: HTTPResponse) -> String? { try? response.xml().text("Code") }

    func testAttributesOfSingleAndMultipartObjects() async throws {
        var options = ObjectStore.Options()
        options.minPartSize = 1
        try await S3TestServer.with(options: options) { server in
            let client = S3TestClient(server)
            try await client.createBucket("attrs")
            let body = pattern(1, 1000)
            try await client.put("attrs", "one", body, headers: [("x-amz-storage-class", "REDUCED_REDUNDANCY")])
            let one = try await client.expect(200, "GET", "/attrs/one", query: [("attributes", nil)],
                                              headers: [("x-amz-object-attributes", "ETag,ObjectSize,StorageClass,ObjectParts")])
            XCTAssertEqual(try one.xml().text("ETag"), md5Hex(body), "unquoted")
            XCTAssertEqual(try one.xml().text("ObjectSize"), "1000")
            XCTAssertEqual(try one.xml().text("StorageClass"), "REDUCED_REDUNDANCY")
            XCTAssertNil(try one.xml().text("ObjectParts", "PartsCount"), "a single PUT has no parts")
            XCTAssertNotNil(one.header("Last-Modified"))

            let created = try await client.expect(200, "POST", "/attrs/mp", query: [("uploads", nil)])
            let uploadId = try XCTUnwrap(try created.xml().text("UploadId"))
            var parts = ""
            for number in 1...3 {
                let part = try await client.expect(200, "PUT", "/attrs/mp", query: [("partNumber", "\(number)"), ("uploadId", uploadId)],
                                                   body: pattern(number, 100 * number))
                parts += "<Part><PartNumber>\(number)</PartNumber><ETag>\(part.header("ETag")!)</ETag></Part>"
            }
            try await client.expect(200, "POST", "/attrs/mp", query: [("uploadId", uploadId)],
                                    body: bytes("<CompleteMultipartUpload>\(parts)</CompleteMultipartUpload>"))
            let page = try await client.expect(200, "GET", "/attrs/mp", query: [("attributes", nil)],
                                               headers: [("x-amz-object-attributes", "ObjectParts,ObjectSize"),
                                                         ("x-amz-max-parts", "1"), ("x-amz-part-number-marker", "1")])
            let xml = try page.xml()
            XCTAssertEqual(xml.text("ObjectParts", "PartsCount"), "3", "S3 names TotalPartsCount PartsCount on the wire")
            XCTAssertEqual(xml.texts("ObjectParts", "Part", "PartNumber"), ["2"])
            XCTAssertEqual(xml.texts("ObjectParts", "Part", "Size"), ["200"])
            XCTAssertEqual(xml.text("ObjectParts", "IsTruncated"), "true")
            XCTAssertEqual(xml.text("ObjectParts", "NextPartNumberMarker"), "2")
            XCTAssertEqual(xml.text("ObjectSize"), "600")

            let unknown = try await client.expect(400, "GET", "/attrs/one", query: [("attributes", nil)],
                                                  headers: [("x-amz-object-attributes", "ETag,Colour")])
            XCTAssertEqual(Self.code(unknown), "InvalidArgument")
            try await client.expect(400, "GET", "/attrs/one", query: [("attributes", nil)])
            let missing = try await client.expect(404, "GET", "/attrs/none", query: [("attributes", nil)],
                                                  headers: [("x-amz-object-attributes", "ETag")])
            XCTAssertEqual(Self.code(missing), "NoSuchKey")
        }
    }

    func testIfNoneMatchWithETagsFollowsRFC9110() async throws {
        var options = ObjectStore.Options()
        options.minPartSize = 1
        try await S3TestServer.with(options: options) { server in
            let client = S3TestClient(server)
            try await client.createBucket("cond")
            let first = pattern(1, 10), second = pattern(2, 10)
            // No current object: any tag list lets the write through.
            try await client.expect(200, "PUT", "/cond/k", headers: [("If-None-Match", "\"\(md5Hex(second))\"")], body: first)
            // The current ETag in the list (weak or strong, among others): 412, nothing written.
            for header in ["\"\(md5Hex(first))\"", "\"0123\", W/\"\(md5Hex(first))\""] {
                let refused = try await client.expect(412, "PUT", "/cond/k", headers: [("If-None-Match", header)], body: second)
                XCTAssertEqual(Self.code(refused), "PreconditionFailed")
            }
            let kept = try await client.expect(200, "GET", "/cond/k")
            XCTAssertEqual(kept.body, first)
            // Another ETag: the write goes on.
            try await client.expect(200, "PUT", "/cond/k", headers: [("If-None-Match", "\"\(md5Hex(second))\"")], body: second)
            let replaced = try await client.expect(200, "GET", "/cond/k")
            XCTAssertEqual(replaced.body, second)
            try await client.expect(412, "PUT", "/cond/k", headers: [("If-None-Match", "*")], body: first)
            // If-Match on a key that does not exist: 404 NoSuchKey.
            let none = try await client.expect(404, "PUT", "/cond/none", headers: [("If-Match", "\"abc\"")], body: first)
            XCTAssertEqual(Self.code(none), "NoSuchKey")
            // CompleteMultipartUpload checks the same way.
            let created = try await client.expect(200, "POST", "/cond/k", query: [("uploads", nil)])
            let uploadId = try XCTUnwrap(try created.xml().text("UploadId"))
            let part = try await client.expect(200, "PUT", "/cond/k", query: [("partNumber", "1"), ("uploadId", uploadId)], body: first)
            let complete = bytes("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\(part.header("ETag")!)</ETag></Part></CompleteMultipartUpload>")
            try await client.expect(412, "POST", "/cond/k", query: [("uploadId", uploadId)],
                                    headers: [("If-None-Match", "\"\(md5Hex(second))\"")], body: complete)
            try await client.expect(200, "POST", "/cond/k", query: [("uploadId", uploadId)],
                                    headers: [("If-None-Match", "\"\(md5Hex(first))\"")], body: complete)
            let completed = try await client.expect(200, "GET", "/cond/k")
            XCTAssertEqual(completed.body, first)
        }
    }
}
