import Foundation
import XCTest
import ObjectStore
@testable import S3Server

/// Object tagging (Put/Get/DeleteObjectTagging, x-amz-tagging on PutObject,
/// CreateMultipartUpload and CopyObject, x-amz-tagging-count) and bucket tagging, with
/// S3's limits and error codes.
final class S3TaggingTests: XCTestCase {
    static func tagging(_ pairs: [(String, String)]) -> [UInt8] {
        let tags = pairs.map { "<Tag><Key>\(XMLWriter.escape($0.0))</Key><Value>\(XMLWriter.escape($0.1))</Value></Tag>" }.joined()
        return bytes(#"<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>"# + tags + "</TagSet></Tagging>")
    }

    static func tagPairs(_ response: HTTPResponse) throws -> [String: String] {
        let xml = try response.xml()
        return Dictionary(uniqueKeysWithValues: zip(xml.texts("TagSet", "Tag", "Key"), xml.texts("TagSet", "Tag", "Value")))
    }

    static func tagsOf(_ client: S3TestClient, _ path: String) async throws -> [String: String] {
        try tagPairs(try await client.expect(200, "GET", path, query: [("tagging", nil)]))
    }

    // MARK: parsing and limits

    func testTagSetParsingAppliesS3Limits() throws {
        XCTAssertEqual(try TagSet.parse(Self.tagging([("a", "1"), ("b", "")]), kind: .object).tags, ["a": "1", "b": ""])
        XCTAssertEqual(try TagSet.parse(Self.tagging([]), kind: .object).tags, [:])
        // 128-character keys and 256-character values (Unicode characters, not bytes) are fine.
        let key = String(repeating: "é", count: 128), value = String(repeating: "ü", count: 256)
        XCTAssertEqual(try TagSet.parse(Self.tagging([(key, value)]), kind: .object).tags, [key: value])
        func code(_ document: [UInt8], _ kind: TagSet.Kind = .object) -> String? {
            do { _ = try TagSet.parse(document, kind: kind); return nil } catch let e as S3Error { return e.code } catch { return "\(error)" }
        }
        let eleven = (0..<11).map { ("k\($0)", "v") }
        XCTAssertEqual(code(Self.tagging(eleven)), "BadRequest", "more than 10 tags on an object")
        XCTAssertNil(code(Self.tagging(eleven), .bucket), "a bucket takes 50")
        XCTAssertEqual(code(Self.tagging((0..<51).map { ("k\($0)", "v") }), .bucket), "BadRequest")
        XCTAssertEqual(code(Self.tagging([(key + "x", "v")])), "InvalidTag")
        XCTAssertEqual(code(Self.tagging([("k", value + "x")])), "InvalidTag")
        XCTAssertEqual(code(Self.tagging([("k", "1"), ("k", "2")])), "InvalidTag", "duplicate keys")
        XCTAssertEqual(code(Self.tagging([("aws:cloudformation", "x")])), "InvalidTag", "aws: is reserved")
        XCTAssertEqual(code(Self.tagging([("", "x")])), "InvalidTag")
        // S3's tag characters: letters, numbers, spaces and _ . : / = + - @.
        XCTAssertNil(code(Self.tagging([("Ünï cödé_.:/=+-@ 1", "välue 2_.:/=+-@")])))
        for bad in ["a,b", "a;b", "a?b", "a!b", "a*b", "a#b", "a%b", "a(b)", "a\tb", "😀", "a&b", "<x>"] {
            XCTAssertEqual(code(Self.tagging([(bad, "v")])), "InvalidTag", "key \(bad)")
            XCTAssertEqual(code(Self.tagging([("k", bad)])), "InvalidTag", "value \(bad)")
        }
        XCTAssertEqual(code(Self.tagging([("AWS:cost", "x")])), "InvalidTag", "aws: in any case")
        XCTAssertEqual(code(bytes("<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>")), "MalformedXML")
        XCTAssertEqual(code(bytes("<Tagging><Tag><Key>k</Key><Value>v</Value></Tag></Tagging>")), "MalformedXML")
        XCTAssertEqual(code(bytes("<Tagging><TagSet>")), "MalformedXML")
        XCTAssertEqual(code(bytes("<Other><TagSet/></Other>")), "MalformedXML")
    }

    func testTaggingHeaderIsFormDecoded() throws {
        XCTAssertEqual(try TagSet.parseHeader("a=1&b=two+words&c%3Dd=x%2By%40z&empty=").tags,
                       ["a": "1", "b": "two words", "c=d": "x+y@z", "empty": ""])
        func code(_ header: String) -> String? {
            do { _ = try TagSet.parseHeader(header); return nil } catch let e as S3Error { return e.code } catch { return "\(error)" }
        }
        XCTAssertEqual(code("a=1&a=2"), "InvalidArgument", "duplicate names")
        XCTAssertEqual(code("=1"), "InvalidArgument", "no key")
        XCTAssertEqual(code("a=%FF"), "InvalidArgument", "not UTF-8")
        XCTAssertEqual(code((0..<11).map { "k\($0)=" }.joined(separator: "&")), "BadRequest")
        XCTAssertEqual(code("a,b=1"), "InvalidTag")
        XCTAssertEqual(code("aws:cost=1"), "InvalidTag")
    }

    // MARK: object tagging over HTTP

    func testObjectTaggingRoundTripAndTaggingCount() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("tags")
            try await client.put("tags", "obj", bytes("hello"))
            // No tags: an empty TagSet, and no x-amz-tagging-count.
            let empty = try await client.expect(200, "GET", "/tags/obj", query: [("tagging", nil)])
            XCTAssertEqual(try Self.tagPairs(empty), [:])
            await assertEqual(try await client.expect(200, "HEAD", "/tags/obj").header("x-amz-tagging-count"), nil)

            try await client.expect(200, "PUT", "/tags/obj", query: [("tagging", nil)],
                                    body: Self.tagging([("project", "strata"), ("team", "storage + co")]))
            let got = try await client.expect(200, "GET", "/tags/obj", query: [("tagging", nil)])
            XCTAssertEqual(try Self.tagPairs(got), ["project": "strata", "team": "storage + co"])
            let get = try await client.expect(200, "GET", "/tags/obj")
            XCTAssertEqual(get.header("x-amz-tagging-count"), "2")
            XCTAssertEqual(get.body, bytes("hello"), "retagging keeps the bytes")
            await assertEqual(try await client.expect(200, "HEAD", "/tags/obj").header("x-amz-tagging-count"), "2")

            try await client.expect(204, "DELETE", "/tags/obj", query: [("tagging", nil)])
            await assertEqual(try await Self.tagsOf(client, "/tags/obj"), [:])

            // ?versionId=null is the only version of an unversioned bucket.
            try await client.expect(200, "PUT", "/tags/obj", query: [("tagging", nil), ("versionId", "null")],
                                    body: Self.tagging([("v", "null")]))
        }
    }

    func testObjectTaggingErrorsChangeNothing() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("tags")
            try await client.put("tags", "obj", bytes("x"), headers: [("x-amz-tagging", "keep=1")])
            let cases: [(String, [UInt8], Int, String)] = [
                ("eleven tags", Self.tagging((0..<11).map { ("k\($0)", "v") }), 400, "BadRequest"),
                ("long key", Self.tagging([(String(repeating: "k", count: 129), "v")]), 400, "InvalidTag"),
                ("long value", Self.tagging([("k", String(repeating: "v", count: 257))]), 400, "InvalidTag"),
                ("duplicate", Self.tagging([("k", "1"), ("k", "2")]), 400, "InvalidTag"),
                ("aws prefix", Self.tagging([("aws:x", "1")]), 400, "InvalidTag"),
                ("malformed", bytes("<Tagging><TagSet><Tag>"), 400, "MalformedXML"),
            ]
            for (name, document, status, code) in cases {
                let response = try await client.expect(status, "PUT", "/tags/obj", query: [("tagging", nil)], body: document, message: name)
                XCTAssertEqual(response.errorCode, code, name)
            }
            await assertEqual(try await Self.tagsOf(client, "/tags/obj"), ["keep": "1"])
            let missing = try await client.expect(404, "PUT", "/tags/nope", query: [("tagging", nil)], body: Self.tagging([("a", "b")]))
            XCTAssertEqual(missing.errorCode, "NoSuchKey")
            await assertEqual(try await client.expect(404, "GET", "/tags/nope", query: [("tagging", nil)]).errorCode, "NoSuchKey")
            await assertEqual(try await client.expect(404, "GET", "/nobucket/x", query: [("tagging", nil)]).errorCode, "NoSuchBucket")
            let badVersion = try await client.expect(400, "GET", "/tags/obj", query: [("tagging", nil), ("versionId", "abc")])
            XCTAssertEqual(badVersion.errorCode, "InvalidArgument")
            // A PUT with bad x-amz-tagging stores nothing.
            let bad = try await client.call("PUT", "/tags/new", headers: [("x-amz-tagging", "a=1&a=2")], body: bytes("y"))
            XCTAssertEqual(bad.errorCode, "InvalidArgument")
            let badKey = try await client.call("PUT", "/tags/new", headers: [("x-amz-tagging", "a%2Cb=1")], body: bytes("y"))
            XCTAssertEqual(badKey.errorCode, "InvalidTag")
            try await client.expect(404, "HEAD", "/tags/new")
        }
    }

    func testTaggingHeaderOnPutMultipartAndCopy() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("tags")
            try await client.put("tags", "src", bytes("source"), headers: [("x-amz-tagging", "a=1&b=two%20words")])
            await assertEqual(try await Self.tagsOf(client, "/tags/src"),
                           ["a": "1", "b": "two words"])

            // CopyObject: COPY (the default) keeps the source's tags, REPLACE takes the header's.
            try await client.expect(200, "PUT", "/tags/copied", headers: [("x-amz-copy-source", "/tags/src")])
            await assertEqual(try await Self.tagsOf(client, "/tags/copied"),
                           ["a": "1", "b": "two words"])
            try await client.expect(200, "PUT", "/tags/replaced", headers: [("x-amz-copy-source", "/tags/src"),
                                                                           ("x-amz-tagging-directive", "REPLACE"),
                                                                           ("x-amz-tagging", "c=3")])
            await assertEqual(try await Self.tagsOf(client, "/tags/replaced"), ["c": "3"])
            try await client.expect(200, "PUT", "/tags/cleared", headers: [("x-amz-copy-source", "/tags/src"),
                                                                          ("x-amz-tagging-directive", "REPLACE")])
            await assertEqual(try await client.expect(200, "HEAD", "/tags/cleared").header("x-amz-tagging-count"), nil)
            let badDirective = try await client.call("PUT", "/tags/x", headers: [("x-amz-copy-source", "/tags/src"),
                                                                                ("x-amz-tagging-directive", "MERGE")])
            XCTAssertEqual(badDirective.errorCode, "InvalidArgument")

            // CreateMultipartUpload's tags reach the object at completion.
            let created = try await client.expect(200, "POST", "/tags/multi", query: [("uploads", nil)], headers: [("x-amz-tagging", "m=1")])
            let uploadId = try created.xml().text("UploadId")!
            let part = try await client.expect(200, "PUT", "/tags/multi", query: [("partNumber", "1"), ("uploadId", uploadId)], body: bytes("part"))
            let etag = part.header("ETag")!
            try await client.expect(200, "POST", "/tags/multi", query: [("uploadId", uploadId)],
                                    body: bytes("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\(etag)</ETag></Part></CompleteMultipartUpload>"))
            await assertEqual(try await Self.tagsOf(client, "/tags/multi"), ["m": "1"])
            let tooMany = try await client.call("POST", "/tags/multi2", query: [("uploads", nil)],
                                                headers: [("x-amz-tagging", (0..<11).map { "k\($0)=v" }.joined(separator: "&"))])
            XCTAssertEqual(tooMany.errorCode, "BadRequest")
        }
    }

    // MARK: bucket tagging

    func testBucketTaggingRoundTripAndErrors() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("btags")
            await assertEqual(try await client.expect(404, "GET", "/btags", query: [("tagging", nil)]).errorCode, "NoSuchTagSet")
            try await client.expect(204, "PUT", "/btags", query: [("tagging", nil)], body: Self.tagging([("env", "dev"), ("cost", "0")]))
            await assertEqual(try await Self.tagsOf(client, "/btags"),
                           ["env": "dev", "cost": "0"])
            let tooMany = try await client.expect(400, "PUT", "/btags", query: [("tagging", nil)],
                                                  body: Self.tagging((0..<51).map { ("k\($0)", "v") }))
            XCTAssertEqual(tooMany.errorCode, "BadRequest")
            let duplicate = try await client.expect(400, "PUT", "/btags", query: [("tagging", nil)], body: Self.tagging([("a", "1"), ("a", "2")]))
            XCTAssertEqual(duplicate.errorCode, "InvalidTag")
            await assertEqual(try await Self.tagsOf(client, "/btags"),
                           ["env": "dev", "cost": "0"])  // a refused document changes nothing
            try await client.expect(204, "DELETE", "/btags", query: [("tagging", nil)])
            await assertEqual(try await client.expect(404, "GET", "/btags", query: [("tagging", nil)]).errorCode, "NoSuchTagSet")
            await assertEqual(try await client.expect(404, "GET", "/nobucket", query: [("tagging", nil)]).errorCode, "NoSuchBucket")
        }
    }
}
