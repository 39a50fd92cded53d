import Foundation
import NIOHTTP1
import XCTest
@testable import S3Server

/// PutObject, GetObject, HeadObject, DeleteObject and DeleteObjects through a real server
/// over a socket, against what the S3 API reference documents for each.
final class S3ObjectOperationTests: XCTestCase {
    static let alphabet = bytes("abcdefghijklmnopqrstuvwxyz")

    /// Runs `body` with a server, a client and a bucket `bkt` holding `k` = the alphabet.
    func withAlphabet(_ body: (S3TestServer, S3TestClient, HTTPResponse) async throws -> Void) async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            let put = try await client.put("bkt", "k", Self.alphabet)
            try await body(server, client, put)
        }
    }

    // MARK: PUT / GET / HEAD

    /// PutObject answers the ETag: the hex MD5 of the body, quoted. GetObject returns the
    /// bytes with that ETag, an HTTP-date Last-Modified, Content-Length, Accept-Ranges:
    /// bytes and, for an object stored without one, Content-Type binary/octet-stream.
    func testPutThenGetReturnsBytesQuotedMD5ETagAndHTTPDateLastModified() async throws {
        try await withAlphabet { _, client, put in
            let etag = "\"\(md5Hex(Self.alphabet))\""
            XCTAssertEqual(put.header("ETag"), etag)
            let get = try await client.call("GET", "/bkt/k")
            XCTAssertEqual(get.status, 200)
            XCTAssertEqual(get.body, Self.alphabet)
            XCTAssertEqual(get.header("ETag"), etag)
            XCTAssertEqual(get.header("Content-Length"), "26")
            XCTAssertEqual(get.header("Accept-Ranges"), "bytes")
            XCTAssertEqual(get.header("Content-Type"), "binary/octet-stream")
            let lastModified = try XCTUnwrap(get.header("Last-Modified"))
            let date = try XCTUnwrap(parseHTTPDate(lastModified), lastModified)
            XCTAssertLessThan(abs(date.timeIntervalSinceNow), 60)
        }
    }

    /// HeadObject: GetObject's headers (Content-Length of the object) and no body.
    func testHeadReturnsObjectHeadersWithoutBody() async throws {
        try await withAlphabet { _, client, put in
            let head = try await client.call("HEAD", "/bkt/k")
            XCTAssertEqual(head.status, 200)
            XCTAssertEqual(head.header("Content-Length"), "26")
            XCTAssertEqual(head.header("ETag"), put.header("ETag"))
            XCTAssertEqual(head.header("Accept-Ranges"), "bytes")
            XCTAssertNotNil(head.header("Last-Modified"))
            XCTAssertEqual(head.body, [])
            // Nothing stray follows on the connection.
            let again = try await client.call("GET", "/bkt/k").body
            XCTAssertEqual(again, Self.alphabet)
        }
    }

    /// An empty object: PUT with Content-Length 0, GET 200 with an empty body and the MD5
    /// of nothing as ETag.
    func testEmptyObjectRoundTrips() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            try await client.put("bkt", "empty", [])
            let get = try await client.call("GET", "/bkt/empty")
            XCTAssertEqual(get.status, 200)
            XCTAssertEqual(get.body, [])
            XCTAssertEqual(get.header("Content-Length"), "0")
            XCTAssertEqual(get.header("ETag"), "\"d41d8cd98f00b204e9800998ecf8427e\"")
        }
    }

    /// A list of content codings is stored and returned as sent, as S3 does; only
    /// `aws-chunked` (the framing of the upload, not an encoding of the object) is removed.
    func testContentEncodingListIsReturnedAsSentWithoutAwsChunked() async throws {
        let cases: [(sent: String, stored: String?)] = [
            ("deflate, gzip", "deflate, gzip"), ("gzip,br", "gzip,br"), ("aws-chunked, gzip", "gzip"),
            ("deflate, aws-chunked, gzip", "deflate, gzip"), ("gzip, AWS-CHUNKED", "gzip"), ("aws-chunked", nil),
        ]
        for (sent, stored) in cases {
            var headers = HTTPHeaders()
            headers.add(name: "Content-Encoding", value: sent)
            XCTAssertEqual(try ObjectHeaders.metadata(from: headers)["content-encoding"], stored, sent)
        }
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            try await client.put("bkt", "coded", bytes("payload"), headers: [("Content-Encoding", "deflate, gzip")])
            for method in ["GET", "HEAD"] {
                let response = try await client.expect(200, method, "/bkt/coded")
                XCTAssertEqual(response.header("Content-Encoding"), "deflate, gzip", method)
            }
        }
    }

    /// Content-Type, Content-Encoding, Content-Disposition, Cache-Control, Expires,
    /// Content-Language and x-amz-meta-* are stored with the object and returned by GET
    /// and HEAD; user metadata names come back lowercase.
    func testStandardHeadersAndUserMetadataAreStoredAndReturned() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            let headers: [(name: String, value: String)] = [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Encoding", "gzip"),
                ("Content-Disposition", #"attachment; filename="report.txt""#),
                ("Cache-Control", "max-age=3600, must-revalidate"),
                ("Expires", "Thu, 01 Dec 2094 16:00:00 GMT"),
                ("Content-Language", "de-CH"),
                ("x-amz-meta-Color", "blue"),
                ("x-amz-meta-multi-word", "Hello, World  with spaces"),
            ]
            try await client.put("bkt", "described", bytes("payload"), headers: headers)
            for method in ["GET", "HEAD"] {
                let response = try await client.call(method, "/bkt/described")
                XCTAssertEqual(response.status, 200, method)
                XCTAssertEqual(response.header("Content-Type"), "text/plain; charset=utf-8", method)
                XCTAssertEqual(response.header("Content-Encoding"), "gzip", method)
                XCTAssertEqual(response.header("Content-Disposition"), #"attachment; filename="report.txt""#, method)
                XCTAssertEqual(response.header("Cache-Control"), "max-age=3600, must-revalidate", method)
                XCTAssertEqual(response.header("Expires"), "Thu, 01 Dec 2094 16:00:00 GMT", method)
                XCTAssertEqual(response.header("Content-Language"), "de-CH", method)
                XCTAssertEqual(response.header("x-amz-meta-color"), "blue", method)
                XCTAssertTrue(response.headers.contains { $0.name == "x-amz-meta-color" }, "lowercase name")
                XCTAssertEqual(response.header("x-amz-meta-multi-word"), "Hello, World  with spaces", method)
                XCTAssertEqual(response.header("Content-Length"), "7", method)
            }
        }
    }

    /// User metadata is limited to 2 KB (names and values in UTF-8): more is 400
    /// MetadataTooLarge and nothing is stored; well under the limit is fine.
    func testUserMetadataOver2KBIsMetadataTooLarge() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            let big: [(name: String, value: String)] = [
                ("x-amz-meta-one", String(repeating: "a", count: 1200)),
                ("x-amz-meta-two", String(repeating: "b", count: 1200)),
            ]
            let response = try await client.call("PUT", "/bkt/heavy", headers: big, body: bytes("x"))
            XCTAssertEqual(response.status, 400)
            XCTAssertEqual(response.errorCode, "MetadataTooLarge")
            try await client.expect(404, "HEAD", "/bkt/heavy")

            let fine: [(name: String, value: String)] = [("x-amz-meta-one", String(repeating: "a", count: 1900))]
            try await client.put("bkt", "light", bytes("x"), headers: fine)
            let head = try await client.call("HEAD", "/bkt/light")
            XCTAssertEqual(head.header("x-amz-meta-one")?.count, 1900)
        }
    }

    /// A PUT to an existing key replaces it whole: bytes, ETag and metadata (metadata
    /// not sent again is gone).
    func testOverwriteReplacesBytesETagAndMetadata() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            try await client.put("bkt", "k", bytes("first version"),
                                 headers: [("Content-Type", "text/plain"), ("x-amz-meta-old", "1")])
            let second = try await client.put("bkt", "k", bytes("second"), headers: [("x-amz-meta-new", "2")])
            XCTAssertEqual(second.header("ETag"), "\"\(md5Hex(bytes("second")))\"")
            let get = try await client.call("GET", "/bkt/k")
            XCTAssertEqual(get.bodyString, "second")
            XCTAssertEqual(get.header("ETag"), second.header("ETag"))
            XCTAssertEqual(get.header("Content-Type"), "binary/octet-stream")
            XCTAssertNil(get.header("x-amz-meta-old"))
            XCTAssertEqual(get.header("x-amz-meta-new"), "2")
        }
    }

    /// Keys are taken from the raw path exactly (docs/S3-NOTES.md, "Keys are taken from the
    /// raw path"): `+` is a literal plus, `%2B` too, a space is `%20`, and `//`, `.`
    /// segments, non-ASCII and reserved characters are kept; each key reads back its own
    /// bytes and lists as sent.
    func testOddKeysRoundTripExactly() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            let keys = ["a+b", "a b", "dir//double", "./dot/../x", "ünï cødé/文件", "q?x=1&y#frag", "100%", "~tilde*star!'()"]
            for key in keys { try await client.put("bkt", key, bytes("body of " + key)) }
            // A literal `+` in the path (not %2B) is a plus, not a space.
            let plus = try await client.call("GET", "/bkt/a+b")
            XCTAssertEqual(plus.bodyString, "body of a+b")
            for key in keys {
                let get = try await client.call("GET", S3Path.encode(bucket: "bkt", key: key))
                XCTAssertEqual(get.status, 200, key)
                XCTAssertEqual(get.bodyString, "body of " + key)
            }
            let list = try await client.call("GET", "/bkt", query: [("list-type", "2")])
            XCTAssertEqual(try list.xml().texts("Contents", "Key"),
                           keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        }
    }

    /// Objects larger than the in-memory threshold go out as file regions: the whole
    /// object and ranges inside and across it come back byte for byte.
    func testLargeObjectWholeAndRangesReadBackExactly() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            var rng = SplitMix64(seed: 42)
            let data = (0..<(700 * 1024)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let put = try await client.put("bkt", "large", data)
            XCTAssertEqual(put.header("ETag"), "\"\(md5Hex(data))\"")
            let get = try await client.call("GET", "/bkt/large")
            XCTAssertEqual(get.status, 200)
            XCTAssertEqual(get.body.count, data.count)
            XCTAssertTrue(get.body == data)
            for (first, last) in [(0, 299_999), (100_000, 650_000), (data.count - 10, data.count - 1), (5, 5)] {
                let range = try await client.call("GET", "/bkt/large", headers: [("Range", "bytes=\(first)-\(last)")])
                XCTAssertEqual(range.status, 206)
                XCTAssertEqual(range.header("Content-Range"), "bytes \(first)-\(last)/\(data.count)")
                XCTAssertTrue(range.body == Array(data[first...last]), "\(first)-\(last)")
            }
        }
    }

    /// Repeated x-amz-meta-* headers of one name are joined with commas, as S3 does.
    func testRepeatedUserMetadataHeadersAreJoined() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            try await client.put("bkt", "k", bytes("x"), headers: [("x-amz-meta-tag", "one"), ("x-amz-meta-tag", "two")])
            let head = try await client.call("HEAD", "/bkt/k")
            XCTAssertEqual(head.header("x-amz-meta-tag"), "one,two")
        }
    }

    /// A PUT into a bucket that does not exist is 404 NoSuchBucket.
    func testPutIntoMissingBucketIsNoSuchBucket() async throws {
        try await S3TestServer.with { server in
            let response = try await S3TestClient(server).call("PUT", "/nobucket/k", body: bytes("x"))
            XCTAssertEqual(response.status, 404)
            XCTAssertEqual(response.errorCode, "NoSuchBucket")
        }
    }

    // MARK: Ranges

    /// `Range: bytes=0-9`: 206 Partial Content, the first ten bytes, `Content-Range:
    /// bytes 0-9/26`.
    func testRangeOfFirstTenBytesIsPartialContent() async throws {
        try await withAlphabet { _, client, _ in
            let response = try await client.call("GET", "/bkt/k", headers: [("Range", "bytes=0-9")])
            XCTAssertEqual(response.status, 206)
            XCTAssertEqual(response.bodyString, "abcdefghij")
            XCTAssertEqual(response.header("Content-Range"), "bytes 0-9/26")
            XCTAssertEqual(response.header("Content-Length"), "10")
            XCTAssertEqual(response.header("Accept-Ranges"), "bytes")
        }
    }

    /// `bytes=5-`: from byte 5 to the end.
    func testOpenEndedRangeReadsToTheEnd() async throws {
        try await withAlphabet { _, client, _ in
            let response = try await client.call("GET", "/bkt/k", headers: [("Range", "bytes=5-")])
            XCTAssertEqual(response.status, 206)
            XCTAssertEqual(response.bodyString, "fghijklmnopqrstuvwxyz")
            XCTAssertEqual(response.header("Content-Range"), "bytes 5-25/26")
        }
    }

    /// `bytes=-3`: the last three bytes.
    func testSuffixRangeReadsTheLastBytes() async throws {
        try await withAlphabet { _, client, _ in
            let response = try await client.call("GET", "/bkt/k", headers: [("Range", "bytes=-3")])
            XCTAssertEqual(response.status, 206)
            XCTAssertEqual(response.bodyString, "xyz")
            XCTAssertEqual(response.header("Content-Range"), "bytes 23-25/26")
        }
    }

    /// A suffix longer than the object clamps to the whole object (RFC 9110; docs/S3-NOTES.md,
    /// "Range requests").
    func testSuffixRangeLongerThanObjectClampsToWholeObject() async throws {
        try await withAlphabet { _, client, _ in
            let response = try await client.call("GET", "/bkt/k", headers: [("Range", "bytes=-100")])
            XCTAssertEqual(response.status, 206)
            XCTAssertEqual(response.body, Self.alphabet)
            XCTAssertEqual(response.header("Content-Range"), "bytes 0-25/26")
        }
    }

    /// A last byte past the end clamps to the last byte of the object.
    func testRangeEndingPastTheEndClamps() async throws {
        try await withAlphabet { _, client, _ in
            let response = try await client.call("GET", "/bkt/k", headers: [("Range", "bytes=20-1000")])
            XCTAssertEqual(response.status, 206)
            XCTAssertEqual(response.bodyString, "uvwxyz")
            XCTAssertEqual(response.header("Content-Range"), "bytes 20-25/26")
        }
    }

    /// A first byte at or past the end: 416 InvalidRange with `Content-Range: bytes */26`;
    /// the connection stays usable.
    func testRangeStartingPastTheEndIs416WithContentRangeOfSize() async throws {
        try await withAlphabet { _, client, _ in
            for range in ["bytes=26-", "bytes=30-40"] {
                let response = try await client.call("GET", "/bkt/k", headers: [("Range", range)])
                XCTAssertEqual(response.status, 416, range)
                XCTAssertEqual(response.errorCode, "InvalidRange", range)
                XCTAssertEqual(response.header("Content-Range"), "bytes */26", range)
            }
            try await client.expect(200, "GET", "/bkt/k")
        }
    }

    /// HEAD honours Range too: 206 with the range's Content-Length and Content-Range.
    func testHeadWithRangeIsPartialContent() async throws {
        try await withAlphabet { _, client, _ in
            let response = try await client.call("HEAD", "/bkt/k", headers: [("Range", "bytes=0-9")])
            XCTAssertEqual(response.status, 206)
            XCTAssertEqual(response.header("Content-Length"), "10")
            XCTAssertEqual(response.header("Content-Range"), "bytes 0-9/26")
            XCTAssertEqual(response.body, [])
        }
    }

    // MARK: Conditional GET

    /// If-Match with the object's ETag: 200; with another ETag: 412 PreconditionFailed.
    func testIfMatchPassesOnETagAndFailsWith412Otherwise() async throws {
        try await withAlphabet { _, client, put in
            let etag = try XCTUnwrap(put.header("ETag"))
            try await client.expect(200, "GET", "/bkt/k", headers: [("If-Match", etag)])
            try await client.expect(200, "GET", "/bkt/k", headers: [("If-Match", "*")])
            let failed = try await client.call("GET", "/bkt/k", headers: [("If-Match", "\"0123456789abcdef0123456789abcdef\"")])
            XCTAssertEqual(failed.status, 412)
            XCTAssertEqual(failed.errorCode, "PreconditionFailed")
            let head = try await client.call("HEAD", "/bkt/k", headers: [("If-Match", "\"nope\"")])
            XCTAssertEqual(head.status, 412)
        }
    }

    /// If-None-Match with the object's ETag: 304 Not Modified, with the ETag and no body;
    /// with another ETag: 200.
    func testIfNoneMatchOnETagIs304WithETag() async throws {
        try await withAlphabet { _, client, put in
            let etag = try XCTUnwrap(put.header("ETag"))
            let notModified = try await client.call("GET", "/bkt/k", headers: [("If-None-Match", etag)])
            XCTAssertEqual(notModified.status, 304)
            XCTAssertEqual(notModified.header("ETag"), etag)
            XCTAssertEqual(notModified.body, [])
            let other = try await client.call("GET", "/bkt/k", headers: [("If-None-Match", "\"other\"")])
            XCTAssertEqual(other.status, 200)
            XCTAssertEqual(other.body, Self.alphabet)
            try await client.expect(304, "HEAD", "/bkt/k", headers: [("If-None-Match", etag)])
        }
    }

    /// If-Modified-Since before the object's Last-Modified: 200; at or after it: 304.
    func testIfModifiedSinceIs304WhenNotModifiedSince() async throws {
        try await withAlphabet { _, client, _ in
            let head = try await client.call("HEAD", "/bkt/k")
            let lastModified = try XCTUnwrap(head.header("Last-Modified"))
            let modified = try await client.call("GET", "/bkt/k", headers: [("If-Modified-Since", httpDate(Date(timeIntervalSinceNow: -3600)))])
            XCTAssertEqual(modified.status, 200)
            let same = try await client.call("GET", "/bkt/k", headers: [("If-Modified-Since", lastModified)])
            XCTAssertEqual(same.status, 304)
            XCTAssertNotNil(same.header("ETag"))
        }
    }

    /// If-Unmodified-Since before Last-Modified: 412; at or after it: 200.
    func testIfUnmodifiedSinceIs412WhenModifiedSince() async throws {
        try await withAlphabet { _, client, _ in
            let head = try await client.call("HEAD", "/bkt/k")
            let lastModified = try XCTUnwrap(head.header("Last-Modified"))
            let failed = try await client.call("GET", "/bkt/k", headers: [("If-Unmodified-Since", httpDate(Date(timeIntervalSinceNow: -3600)))])
            XCTAssertEqual(failed.status, 412)
            XCTAssertEqual(failed.errorCode, "PreconditionFailed")
            let same = try await client.call("GET", "/bkt/k", headers: [("If-Unmodified-Since", lastModified)])
            XCTAssertEqual(same.status, 200)
        }
    }

    /// GetObject documents: If-Match true and If-Unmodified-Since false → 200 OK (the
    /// ETag wins).
    func testIfMatchTrueWithIfUnmodifiedSinceFalseIs200() async throws {
        try await withAlphabet { _, client, put in
            let response = try await client.call("GET", "/bkt/k", headers: [
                ("If-Match", try XCTUnwrap(put.header("ETag"))),
                ("If-Unmodified-Since", httpDate(Date(timeIntervalSinceNow: -3600))),
            ])
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.body, Self.alphabet)
        }
    }

    /// GetObject documents: If-None-Match false (the ETag matches) and If-Modified-Since
    /// true → 304 Not Modified.
    func testIfNoneMatchFalseWithIfModifiedSinceTrueIs304() async throws {
        try await withAlphabet { _, client, put in
            let response = try await client.call("GET", "/bkt/k", headers: [
                ("If-None-Match", try XCTUnwrap(put.header("ETag"))),
                ("If-Modified-Since", httpDate(Date(timeIntervalSinceNow: -3600))),
            ])
            XCTAssertEqual(response.status, 304)
        }
    }

    /// A date that does not parse in If-Modified-Since or If-Unmodified-Since is ignored
    /// (RFC 9110): the GET is served.
    func testUnparseableConditionalDatesAreIgnored() async throws {
        try await withAlphabet { _, client, _ in
            for name in ["If-Modified-Since", "If-Unmodified-Since"] {
                let response = try await client.call("GET", "/bkt/k", headers: [(name, "yesterday-ish")])
                XCTAssertEqual(response.status, 200, name)
            }
        }
    }

    /// A conditional 304 also carries Last-Modified, and a 304/412 comes before any
    /// Range is looked at.
    func testNotModifiedCarriesLastModifiedAndBeatsRange() async throws {
        try await withAlphabet { _, client, put in
            let etag = try XCTUnwrap(put.header("ETag"))
            let response = try await client.call("GET", "/bkt/k", headers: [("If-None-Match", etag), ("Range", "bytes=100-")])
            XCTAssertEqual(response.status, 304)
            XCTAssertNotNil(response.header("Last-Modified"))
            let failed = try await client.call("GET", "/bkt/k", headers: [("If-Match", "\"x\""), ("Range", "bytes=100-")])
            XCTAssertEqual(failed.status, 412)
        }
    }

    // MARK: response-* overrides

    /// GetObject's response-content-type, -content-language, -expires, -cache-control,
    /// -content-disposition and -content-encoding query parameters override the stored
    /// headers in the response.
    func testResponseQueryParametersOverrideHeaders() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            try await client.put("bkt", "k", bytes("data"), headers: [("Content-Type", "text/plain"), ("Cache-Control", "no-cache")])
            let overrides: [(name: String, value: String?)] = [
                ("response-content-type", "application/json"),
                ("response-content-language", "fr"),
                ("response-expires", "Wed, 21 Oct 2099 07:28:00 GMT"),
                ("response-cache-control", "max-age=10"),
                ("response-content-disposition", #"attachment; filename="x y.json""#),
                ("response-content-encoding", "identity"),
            ]
            let response = try await client.call("GET", "/bkt/k", query: overrides)
            XCTAssertEqual(response.status, 200, response.bodyString)
            XCTAssertEqual(response.bodyString, "data")
            XCTAssertEqual(response.headerValues("Content-Type"), ["application/json"])
            XCTAssertEqual(response.header("Content-Language"), "fr")
            XCTAssertEqual(response.header("Expires"), "Wed, 21 Oct 2099 07:28:00 GMT")
            XCTAssertEqual(response.headerValues("Cache-Control"), ["max-age=10"])
            XCTAssertEqual(response.header("Content-Disposition"), #"attachment; filename="x y.json""#)
            XCTAssertEqual(response.header("Content-Encoding"), "identity")
            // Stored headers are untouched.
            let plain = try await client.call("GET", "/bkt/k")
            XCTAssertEqual(plain.header("Content-Type"), "text/plain")
            XCTAssertEqual(plain.header("Cache-Control"), "no-cache")
        }
    }

    // MARK: missing objects, DELETE, versionId

    /// GetObject on a missing key: 404 NoSuchKey naming the key; in a missing bucket:
    /// 404 NoSuchBucket; HeadObject on a missing key: 404 with no body.
    func testGetMissingKeyIsNoSuchKeyAndMissingBucketIsNoSuchBucket() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            let missingKey = try await client.call("GET", S3Path.encode(bucket: "bkt", key: "no/such key"))
            XCTAssertEqual(missingKey.status, 404)
            XCTAssertEqual(missingKey.errorCode, "NoSuchKey")
            XCTAssertEqual(try missingKey.xml().child("Key")?.text, "no/such key")
            let missingBucket = try await client.call("GET", "/nobucket/k")
            XCTAssertEqual(missingBucket.status, 404)
            XCTAssertEqual(missingBucket.errorCode, "NoSuchBucket")
            let head = try await client.call("HEAD", "/bkt/missing")
            XCTAssertEqual(head.status, 404)
            XCTAssertEqual(head.body, [])
        }
    }

    /// DeleteObject: 204; the key is gone; deleting a key that does not exist is also
    /// 204 (S3 does not say whether it existed); in a missing bucket, 404 NoSuchBucket.
    func testDeleteIs204EvenForAMissingKey() async throws {
        try await withAlphabet { _, client, _ in
            try await client.expect(204, "DELETE", "/bkt/k")
            try await client.expect(404, "GET", "/bkt/k")
            try await client.expect(204, "DELETE", "/bkt/k")
            try await client.expect(204, "DELETE", "/bkt/never-existed")
            let missingBucket = try await client.call("DELETE", "/nobucket/k")
            XCTAssertEqual(missingBucket.status, 404)
            XCTAssertEqual(missingBucket.errorCode, "NoSuchBucket")
        }
    }

    /// On an unversioned bucket the only version id is `null`: GET, HEAD and DELETE with
    /// versionId=null act on the object; any other version id is 400.
    func testVersionIdNullWorksAndOtherVersionIdsAre400() async throws {
        try await withAlphabet { _, client, _ in
            let get = try await client.call("GET", "/bkt/k", query: [("versionId", "null")])
            XCTAssertEqual(get.status, 200)
            XCTAssertEqual(get.body, Self.alphabet)
            try await client.expect(200, "HEAD", "/bkt/k", query: [("versionId", "null")])
            let other = try await client.call("GET", "/bkt/k", query: [("versionId", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")])
            XCTAssertEqual(other.status, 400)
            XCTAssertEqual(other.errorCode, "InvalidArgument")
            try await client.expect(400, "DELETE", "/bkt/k", query: [("versionId", "abc")])
            try await client.expect(200, "GET", "/bkt/k", message: "a rejected delete deletes nothing")
            try await client.expect(204, "DELETE", "/bkt/k", query: [("versionId", "null")])
            try await client.expect(404, "GET", "/bkt/k")
        }
    }

    // MARK: DeleteObjects

    static func deleteDocument(_ keys: [String], quiet: Bool? = nil) -> [UInt8] {
        var text = #"<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#
        if let quiet { text += "<Quiet>\(quiet)</Quiet>" }
        for key in keys { text += "<Object><Key>\(XMLWriter.escape(key))</Key></Object>" }
        return bytes(text + "</Delete>")
    }

    /// Seeds bucket `bkt` with `keys` and returns a client.
    func withKeys(_ keys: [String], _ body: (S3TestServer, S3TestClient) async throws -> Void) async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            try await server.seed(bucket: "bkt", keys: keys)
            try await body(server, client)
        }
    }

    func remainingKeys(_ client: S3TestClient) async throws -> [String] {
        let list = try await client.call("GET", "/bkt", query: [("list-type", "2")])
        XCTAssertEqual(list.status, 200)
        return try list.xml().texts("Contents", "Key")
    }

    /// DeleteObjects with Content-MD5: every key listed as Deleted, in request order,
    /// including keys that did not exist (S3 reports those as deleted too); they are gone.
    func testDeleteObjectsWithContentMD5ListsDeletedInRequestOrder() async throws {
        let keys = ["zebra", "apple", "m/iddle", "a&b<c>\"d'"]
        try await withKeys(keys + ["keep"]) { _, client in
            let requested = keys + ["not-there"]
            let body = Self.deleteDocument(requested)
            let response = try await client.call("POST", "/bkt", query: [("delete", nil)],
                                                  headers: [("Content-MD5", contentMD5(body))], body: body)
            XCTAssertEqual(response.status, 200, response.bodyString)
            let xml = try response.xml()
            XCTAssertEqual(xml.name, "DeleteResult")
            XCTAssertEqual(xml.texts("Deleted", "Key"), requested)
            XCTAssertEqual(xml.children("Error").count, 0)
            let remaining = try await remainingKeys(client)
            XCTAssertEqual(remaining, ["keep"])
        }
    }

    /// DeleteObjects with `<Quiet>true</Quiet>`: the response lists only errors, so a
    /// fully successful request answers an empty DeleteResult.
    func testDeleteObjectsQuietListsNothingOnSuccess() async throws {
        try await withKeys(["a", "b", "c"]) { _, client in
            let body = Self.deleteDocument(["a", "c"], quiet: true)
            let response = try await client.call("POST", "/bkt", query: [("delete", nil)],
                                                  headers: [("Content-MD5", contentMD5(body))], body: body)
            XCTAssertEqual(response.status, 200, response.bodyString)
            let xml = try response.xml()
            XCTAssertEqual(xml.name, "DeleteResult")
            XCTAssertEqual(xml.children.count, 0, response.bodyString)
            let remaining = try await remainingKeys(client)
            XCTAssertEqual(remaining, ["b"])
        }
    }

    /// New SDKs send an x-amz-checksum-crc32 header instead of Content-MD5: accepted and
    /// verified (docs/S3-NOTES.md, "DeleteObjects without Content-MD5").
    func testDeleteObjectsWithCRC32ChecksumInsteadOfContentMD5() async throws {
        try await withKeys(["a", "b"]) { _, client in
            let body = Self.deleteDocument(["a"])
            let response = try await client.call("POST", "/bkt", query: [("delete", nil)], headers: [
                ("x-amz-sdk-checksum-algorithm", "CRC32"),
                ("x-amz-checksum-crc32", TestSigner.checksumBase64(.crc32, of: body)),
            ], body: body)
            XCTAssertEqual(response.status, 200, response.bodyString)
            XCTAssertEqual(try response.xml().texts("Deleted", "Key"), ["a"])
            let remaining = try await remainingKeys(client)
            XCTAssertEqual(remaining, ["b"])
        }
    }

    /// Neither Content-MD5 nor a checksum header: accepted (the SigV4 payload hash
    /// already covers the body).
    func testDeleteObjectsWithNeitherContentMD5NorChecksum() async throws {
        try await withKeys(["a", "b"]) { _, client in
            let body = Self.deleteDocument(["b"])
            let response = try await client.call("POST", "/bkt", query: [("delete", nil)], body: body)
            XCTAssertEqual(response.status, 200, response.bodyString)
            XCTAssertEqual(try response.xml().texts("Deleted", "Key"), ["b"])
            let remaining = try await remainingKeys(client)
            XCTAssertEqual(remaining, ["a"])
        }
    }

    /// A Content-MD5 that does not match the body: 400 BadDigest and nothing deleted.
    func testDeleteObjectsWithWrongContentMD5IsBadDigestAndDeletesNothing() async throws {
        try await withKeys(["a", "b"]) { _, client in
            let body = Self.deleteDocument(["a", "b"])
            let response = try await client.call("POST", "/bkt", query: [("delete", nil)],
                                                  headers: [("Content-MD5", contentMD5(bytes("something else")))], body: body)
            XCTAssertEqual(response.status, 400)
            XCTAssertEqual(response.errorCode, "BadDigest")
            let remaining = try await remainingKeys(client)
            XCTAssertEqual(remaining, ["a", "b"])
        }
    }

    /// An x-amz-checksum-crc32 that does not match the body: 400 and nothing deleted.
    func testDeleteObjectsWithWrongCRC32IsRejectedAndDeletesNothing() async throws {
        try await withKeys(["a", "b"]) { _, client in
            let body = Self.deleteDocument(["a", "b"])
            let response = try await client.call("POST", "/bkt", query: [("delete", nil)], headers: [
                ("x-amz-checksum-crc32", TestSigner.checksumBase64(.crc32, of: bytes("other"))),
            ], body: body)
            XCTAssertEqual(response.status, 400, response.bodyString)
            XCTAssertEqual(response.errorCode, "BadDigest")
            let remaining = try await remainingKeys(client)
            XCTAssertEqual(remaining, ["a", "b"])
        }
    }

    /// A Delete body that is not well-formed, has another root, an Object without Key or
    /// no Object at all: 400 MalformedXML, nothing deleted.
    func testDeleteObjectsWithMalformedBodyIsMalformedXML() async throws {
        try await withKeys(["a"]) { _, client in
            for text in ["<Delete><Object><Key>a</Key></Object>",
                         "<CreateBucketConfiguration/>",
                         "<Delete><Object><VersionId>x</VersionId></Object></Delete>",
                         "<Delete></Delete>"] {
                let body = bytes(text)
                let response = try await client.call("POST", "/bkt", query: [("delete", nil)],
                                                      headers: [("Content-MD5", contentMD5(body))], body: body)
                XCTAssertEqual(response.status, 400, text)
                XCTAssertEqual(response.errorCode, "MalformedXML", text)
            }
            let remaining = try await remainingKeys(client)
            XCTAssertEqual(remaining, ["a"])
        }
    }

    /// More than 1000 keys in one DeleteObjects request is 400 MalformedXML; exactly 1000
    /// is fine.
    func testDeleteObjectsWithMoreThan1000KeysIsMalformedXML() async throws {
        try await withKeys(["keep"]) { _, client in
            let tooMany = Self.deleteDocument((0...1000).map { "k\($0)" })
            let refused = try await client.call("POST", "/bkt", query: [("delete", nil)],
                                                headers: [("Content-MD5", contentMD5(tooMany))], body: tooMany)
            XCTAssertEqual(refused.status, 400)
            XCTAssertEqual(refused.errorCode, "MalformedXML")
            let thousand = Self.deleteDocument((0..<999).map { "k\($0)" } + ["keep"])
            let accepted = try await client.call("POST", "/bkt", query: [("delete", nil)],
                                                 headers: [("Content-MD5", contentMD5(thousand))], body: thousand)
            XCTAssertEqual(accepted.status, 200, accepted.bodyString)
            XCTAssertEqual(try accepted.xml().children("Deleted").count, 1000)
            let remaining = try await remainingKeys(client)
            XCTAssertEqual(remaining, [])
        }
    }

    /// DeleteObjects on a missing bucket: 404 NoSuchBucket.
    func testDeleteObjectsOnMissingBucketIsNoSuchBucket() async throws {
        try await S3TestServer.with { server in
            let body = Self.deleteDocument(["a"])
            let response = try await S3TestClient(server).call("POST", "/nobucket", query: [("delete", nil)],
                                                               headers: [("Content-MD5", contentMD5(body))], body: body)
            XCTAssertEqual(response.status, 404)
            XCTAssertEqual(response.errorCode, "NoSuchBucket")
        }
    }
}
