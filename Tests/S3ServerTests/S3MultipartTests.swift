import Foundation
import ObjectStore
import XCTest
@testable import S3Server

/// Multipart uploads through a real server: the lifecycle (create, parts, complete,
/// abort), the errors of CompleteMultipartUpload, both listings, UploadPartCopy, GET/HEAD
/// by part number, and the multipart ETag and checksums (docs/S3-NOTES.md, "Multipart
/// ETag", "Multipart checksums").
///
/// The store runs with a 4 KiB minimum part size so tests move kilobytes, not megabytes.
final class S3MultipartTests: XCTestCase {
    static let minPartSize: UInt64 = 4096
    static let bucket = "mpu"

    /// Runs `body` against a server with bucket `mp`.
    func withServer(_ body: (S3TestClient, S3TestServer) async throws -> Void) async throws {
        var options = ObjectStore.Options()
        options.minPartSize = Self.minPartSize
        try await S3TestServer.with(options: options) { server in
            let client = S3TestClient(server)
            try await client.createBucket(Self.bucket)
            try await body(client, server)
        }
    }

    // MARK: Helpers

    /// Deterministic bytes, different for each seed.
    static func data(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 131 &+ seed &* 7919) ^ ($0 >> 8) ^ seed) }
    }

    /// S3's multipart ETag, computed here: hex MD5 of the parts' binary MD5s, `-N`.
    static func multipartETag(_ parts: [[UInt8]]) -> String {
        var all = MD5Hasher()
        for part in parts {
            var one = MD5Hasher()
            one.update(part)
            all.update(one.finalize())
        }
        return "\(hexString(all.finalize()))-\(parts.count)"
    }

    static func path(_ key: String) -> String { S3Path.encode(bucket: bucket, key: key) }

    /// CreateMultipartUpload; returns the upload id (fails the test unless 200).
    func create(_ client: S3TestClient, _ key: String, headers: [(name: String, value: String)] = [],
                file: StaticString = #filePath, line: UInt = #line) async throws -> String {
        let response = try await client.expect(200, "POST", Self.path(key), query: [("uploads", nil)], headers: headers,
                                               file: file, line: line)
        let xml = try response.xml()
        XCTAssertEqual(xml.name, "InitiateMultipartUploadResult", file: file, line: line)
        XCTAssertEqual(xml.text("Bucket"), Self.bucket, file: file, line: line)
        XCTAssertEqual(xml.text("Key"), key, file: file, line: line)
        return try XCTUnwrap(xml.text("UploadId"), file: file, line: line)
    }

    /// UploadPart; returns the response (status not checked).
    func uploadPart(_ client: S3TestClient, _ key: String, _ uploadId: String, _ number: Int, _ body: [UInt8],
                    headers: [(name: String, value: String)] = []) async throws -> HTTPResponse {
        try await client.call("PUT", Self.path(key), query: [("partNumber", String(number)), ("uploadId", uploadId)],
                              headers: headers, body: body)
    }

    /// UploadPart that must succeed; returns the quoted ETag.
    func putPart(_ client: S3TestClient, _ key: String, _ uploadId: String, _ number: Int, _ body: [UInt8],
                 headers: [(name: String, value: String)] = [],
                 file: StaticString = #filePath, line: UInt = #line) async throws -> String {
        let response = try await uploadPart(client, key, uploadId, number, body, headers: headers)
        XCTAssertEqual(response.status, 200, response.bodyString, file: file, line: line)
        let etag = try XCTUnwrap(response.header("ETag"), file: file, line: line)
        XCTAssertEqual(etag, "\"\(md5Hex(body))\"", file: file, line: line)
        return etag
    }

    /// The CompleteMultipartUpload document for `parts` (number, ETag, extra elements).
    static func completeBody(_ parts: [(number: Int, etag: String)], extra: [Int: String] = [:],
                             namespaced: Bool = true) -> [UInt8] {
        let ns = namespaced ? #" xmlns="http://s3.amazonaws.com/doc/2006-03-01/""# : ""
        let items = parts.map { "<Part><PartNumber>\($0.number)</PartNumber><ETag>\($0.etag)</ETag>\(extra[$0.number] ?? "")</Part>" }
        return bytes("<CompleteMultipartUpload\(ns)>\(items.joined())</CompleteMultipartUpload>")
    }

    func complete(_ client: S3TestClient, _ key: String, _ uploadId: String, _ parts: [(number: Int, etag: String)],
                  extra: [Int: String] = [:], headers: [(name: String, value: String)] = []) async throws -> HTTPResponse {
        try await client.call("POST", Self.path(key), query: [("uploadId", uploadId)], headers: headers,
                              body: Self.completeBody(parts, extra: extra))
    }

    /// Uploads `parts` as a new upload of `key` and completes it; returns the Complete response.
    @discardableResult
    func upload(_ client: S3TestClient, _ key: String, _ parts: [[UInt8]], headers: [(name: String, value: String)] = [],
                file: StaticString = #filePath, line: UInt = #line) async throws -> HTTPResponse {
        let id = try await create(client, key, headers: headers, file: file, line: line)
        var etags: [(number: Int, etag: String)] = []
        for (i, part) in parts.enumerated() {
            etags.append((i + 1, try await putPart(client, key, id, i + 1, part, file: file, line: line)))
        }
        let response = try await complete(client, key, id, etags)
        XCTAssertEqual(response.status, 200, response.bodyString, file: file, line: line)
        return response
    }

    /// XCTAssertEqual for a value that needs awaiting (XCTest's autoclosures cannot await).
    func expectEqual<T: Equatable>(_ value: @autoclosure () async throws -> T, _ expected: T, _ message: String = "",
                                   file: StaticString = #filePath, line: UInt = #line) async throws {
        let actual = try await value()
        XCTAssertEqual(actual, expected, message, file: file, line: line)
    }

    func assertError(_ response: HTTPResponse, _ status: Int, _ code: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(response.status, status, response.bodyString, file: file, line: line)
        XCTAssertEqual(response.errorCode, code, response.bodyString, file: file, line: line)
    }

    func listUploads(_ client: S3TestClient, _ query: [(name: String, value: String?)] = []) async throws -> XMLTree {
        try await client.expect(200, "GET", "/\(Self.bucket)", query: [("uploads", nil)] + query).xml()
    }

    // MARK: Lifecycle

    /// Create, three parts, complete: GET returns the concatenation with the upload's
    /// metadata, and the ETag is the multipart form with `-3`, on Complete, GET and listing.
    func testCreateUploadCompleteRoundTrip() async throws {
        try await withServer { client, _ in
            let parts = [Self.data(4096, seed: 1), Self.data(5000, seed: 2), Self.data(100, seed: 3)]
            let id = try await create(client, "dir/big.bin", headers: [
                ("Content-Type", "application/x-mp"), ("x-amz-meta-origin", "multipart"), ("Cache-Control", "no-cache"),
            ])
            XCTAssertEqual(id.count, 20)
            var etags: [(number: Int, etag: String)] = []
            for (i, part) in parts.enumerated() {
                etags.append((i + 1, try await putPart(client, "dir/big.bin", id, i + 1, part)))
            }
            // Not visible before completion.
            try await client.expect(404, "GET", Self.path("dir/big.bin"))
            let done = try await complete(client, "dir/big.bin", id, etags)
            XCTAssertEqual(done.status, 200, done.bodyString)
            let expected = "\"\(Self.multipartETag(parts))\""
            let xml = try done.xml()
            XCTAssertEqual(xml.name, "CompleteMultipartUploadResult")
            XCTAssertEqual(xml.text("ETag"), expected)
            XCTAssertEqual(xml.text("Bucket"), Self.bucket)
            XCTAssertEqual(xml.text("Key"), "dir/big.bin")
            XCTAssertTrue(xml.text("Location")?.hasSuffix("/mpu/dir/big.bin") ?? false, xml.text("Location") ?? "")
            XCTAssertNil(xml.text("ChecksumType"), "no checksum algorithm, no checksum")

            let get = try await client.expect(200, "GET", Self.path("dir/big.bin"))
            XCTAssertEqual(get.body, parts.flatMap { $0 })
            XCTAssertEqual(get.header("ETag"), expected)
            XCTAssertEqual(get.header("Content-Type"), "application/x-mp")
            XCTAssertEqual(get.header("x-amz-meta-origin"), "multipart")
            XCTAssertEqual(get.header("Cache-Control"), "no-cache")
            XCTAssertNil(get.header("x-amz-mp-parts-count"), "only sent with ?partNumber")
            let head = try await client.expect(200, "HEAD", Self.path("dir/big.bin"))
            XCTAssertEqual(head.header("Content-Length"), String(9196))
            XCTAssertEqual(head.header("ETag"), expected)
            let list = try await client.expect(200, "GET", "/\(Self.bucket)", query: [("list-type", "2")]).xml()
            XCTAssertEqual(list.texts("Contents", "ETag"), [expected])
            XCTAssertEqual(list.texts("Contents", "Size"), ["9196"])
            // Completed: no longer listed as in progress.
            try await expectEqual(try await listUploads(client).texts("Upload", "UploadId"), [])
        }
    }

    /// Uploading a part number again replaces the part: ListParts shows the new one,
    /// Complete needs its ETag (the old one is InvalidPart) and the object has its bytes.
    func testReuploadedPartReplacesEarlier() async throws {
        try await withServer { client, _ in
            let id = try await create(client, "k")
            let first = Self.data(4096, seed: 10), second = Self.data(4200, seed: 11), last = Self.data(10, seed: 12)
            let oldETag = try await putPart(client, "k", id, 1, first)
            let newETag = try await putPart(client, "k", id, 1, second)
            let lastETag = try await putPart(client, "k", id, 2, last)
            let parts = try await client.expect(200, "GET", Self.path("k"), query: [("uploadId", id)]).xml()
            XCTAssertEqual(parts.texts("Part", "PartNumber"), ["1", "2"])
            XCTAssertEqual(parts.texts("Part", "ETag"), [newETag, lastETag])
            XCTAssertEqual(parts.texts("Part", "Size"), ["4200", "10"])
            assertError(try await complete(client, "k", id, [(1, oldETag), (2, lastETag)]), 400, "InvalidPart")
            let done = try await complete(client, "k", id, [(1, newETag), (2, lastETag)])
            XCTAssertEqual(done.status, 200, done.bodyString)
            try await expectEqual(try await client.expect(200, "GET", Self.path("k")).body, second + last)
        }
    }

    /// Parts listed out of ascending order are InvalidPartOrder.
    func testPartsOutOfOrderAreInvalidPartOrder() async throws {
        try await withServer { client, _ in
            let id = try await create(client, "k")
            let e1 = try await putPart(client, "k", id, 1, Self.data(4096, seed: 1))
            let e2 = try await putPart(client, "k", id, 2, Self.data(4096, seed: 2))
            assertError(try await complete(client, "k", id, [(2, e2), (1, e1)]), 400, "InvalidPartOrder")
            assertError(try await complete(client, "k", id, [(1, e1), (2, e2), (1, e1)]), 400, "InvalidPartOrder")
            // The upload is still open and completes once asked properly.
            let done = try await complete(client, "k", id, [(1, e1), (2, e2)])
            XCTAssertEqual(done.status, 200, done.bodyString)
        }
    }

    /// A part number listed twice (a client that resent a part lists both sends): the
    /// last entry wins, as S3 answers; the object has each part once.
    func testRepeatedPartNumberInCompleteLastEntryWins() async throws {
        try await withServer { client, _ in
            let id = try await create(client, "k")
            let first = Self.data(4096, seed: 1), resent = Self.data(4096, seed: 3), two = Self.data(100, seed: 2)
            let old = try await putPart(client, "k", id, 1, first)
            let new = try await putPart(client, "k", id, 1, resent)
            let e2 = try await putPart(client, "k", id, 2, two)
            let done = try await complete(client, "k", id, [(1, old), (1, new), (2, e2)])
            XCTAssertEqual(done.status, 200, done.bodyString)
            XCTAssertTrue(try done.xml().text("ETag")?.hasSuffix("-2\"") == true, done.bodyString)
            try await expectEqual(try await client.expect(200, "GET", Self.path("k")).body, resent + two)
        }
    }

    /// A wrong ETag, a part never uploaded, or a part number out of range is InvalidPart;
    /// ETags are accepted with or without quotes.
    func testWrongETagOrMissingPartIsInvalidPart() async throws {
        try await withServer { client, _ in
            let id = try await create(client, "k")
            let e1 = try await putPart(client, "k", id, 1, Self.data(4096, seed: 1))
            let e2 = try await putPart(client, "k", id, 2, Self.data(10, seed: 2))
            assertError(try await complete(client, "k", id, [(1, e1), (2, "\"\(md5Hex(bytes("other")))\"")]), 400, "InvalidPart")
            assertError(try await complete(client, "k", id, [(1, e1), (2, e2), (3, e2)]), 400, "InvalidPart")
            assertError(try await complete(client, "k", id, [(1, e1), (20_000, e2)]), 400, "InvalidPart")
            let unquoted = e1.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            let done = try await complete(client, "k", id, [(1, unquoted), (2, e2)])
            XCTAssertEqual(done.status, 200, done.bodyString)
        }
    }

    /// Every part but the last must be at least the minimum part size (EntityTooSmall);
    /// a single small part is a valid upload.
    func testSmallPartBeforeLastIsEntityTooSmall() async throws {
        try await withServer { client, _ in
            let id = try await create(client, "k")
            let e1 = try await putPart(client, "k", id, 1, Self.data(100, seed: 1))
            let e2 = try await putPart(client, "k", id, 2, Self.data(100, seed: 2))
            assertError(try await complete(client, "k", id, [(1, e1), (2, e2)]), 400, "EntityTooSmall")
            let done = try await complete(client, "k", id, [(1, e1)])
            XCTAssertEqual(done.status, 200, done.bodyString)
            try await expectEqual(try await client.expect(200, "GET", Self.path("k")).body, Self.data(100, seed: 1))
        }
    }

    /// After an abort every operation on the upload is 404 NoSuchUpload naming the id,
    /// as is a made-up id or an id used with another key; nothing is left listed.
    func testAbortThenNoSuchUpload() async throws {
        try await withServer { client, _ in
            let id = try await create(client, "k")
            let e1 = try await putPart(client, "k", id, 1, Self.data(200, seed: 1))
            try await expectEqual(try await listUploads(client).texts("Upload", "UploadId"), [id])
            // Another key's path with this id: not this upload.
            assertError(try await uploadPart(client, "other", id, 1, bytes("x")), 404, "NoSuchUpload")
            try await client.expect(204, "DELETE", Self.path("k"), query: [("uploadId", id)])

            let put = try await uploadPart(client, "k", id, 2, bytes("late"))
            assertError(put, 404, "NoSuchUpload")
            XCTAssertEqual(try put.xml().text("UploadId"), id)
            assertError(try await complete(client, "k", id, [(1, e1)]), 404, "NoSuchUpload")
            assertError(try await client.call("GET", Self.path("k"), query: [("uploadId", id)]), 404, "NoSuchUpload")
            assertError(try await client.call("DELETE", Self.path("k"), query: [("uploadId", id)]), 404, "NoSuchUpload")
            try await expectEqual(try await listUploads(client).texts("Upload", "UploadId"), [])
            try await client.expect(404, "GET", Self.path("k"))

            for madeUp in ["0123456789abcdef0123", "nope", ""] {
                assertError(try await uploadPart(client, "k", madeUp, 1, bytes("x")), 404, "NoSuchUpload")
                assertError(try await client.call("GET", Self.path("k"), query: [("uploadId", madeUp)]), 404, "NoSuchUpload")
                assertError(try await complete(client, "k", madeUp, [(1, e1)]), 404, "NoSuchUpload")
                assertError(try await client.call("DELETE", Self.path("k"), query: [("uploadId", madeUp)]), 404, "NoSuchUpload")
            }
            // A missing bucket is NoSuchBucket, not NoSuchUpload.
            assertError(try await client.call("POST", "/nobucket/k", query: [("uploads", nil)]), 404, "NoSuchBucket")
        }
    }

    /// A part whose body does not match its Content-MD5 or checksum header is refused
    /// and leaves no part behind.
    func testBadPartBodyLeavesNoPart() async throws {
        try await withServer { client, _ in
            let id = try await create(client, "k")
            let body = Self.data(100, seed: 1)
            assertError(try await uploadPart(client, "k", id, 1, body, headers: [("Content-MD5", contentMD5(bytes("other")))]),
                        400, "BadDigest")
            let crc = Data(ChecksumHasher.digest(.crc32, of: bytes("other"))).base64EncodedString()
            assertError(try await uploadPart(client, "k", id, 1, body, headers: [("x-amz-checksum-crc32", crc)]), 400, "BadDigest")
            let parts = try await client.expect(200, "GET", Self.path("k"), query: [("uploadId", id)]).xml()
            XCTAssertEqual(parts.texts("Part", "PartNumber"), [])
            _ = try await putPart(client, "k", id, 1, body, headers: [("Content-MD5", contentMD5(body))])
        }
    }

    /// Part numbers outside 1...10000 are InvalidArgument.
    func testPartNumberOutOfRangeIsInvalidArgument() async throws {
        try await withServer { client, _ in
            let id = try await create(client, "k")
            for number in ["0", "10001", "-1", "x"] {
                let response = try await client.call("PUT", Self.path("k"), query: [("partNumber", number), ("uploadId", id)],
                                                     body: bytes("x"))
                assertError(response, 400, "InvalidArgument")
            }
        }
    }

    // MARK: Listing

    /// ListParts pages with max-parts and part-number-marker; every page names the
    /// upload, its initiator and owner.
    func testListPartsPaging() async throws {
        try await withServer { client, _ in
            let id = try await create(client, "k")
            var etags: [String] = []
            for n in 1...5 { etags.append(try await putPart(client, "k", id, n, Self.data(10 * n, seed: n))) }
            var seen: [String] = []
            var marker: String?
            var pages = 0
            repeat {
                var query: [(name: String, value: String?)] = [("uploadId", id), ("max-parts", "2")]
                if let marker { query.append(("part-number-marker", marker)) }
                let xml = try await client.expect(200, "GET", Self.path("k"), query: query).xml()
                XCTAssertEqual(xml.name, "ListPartsResult")
                XCTAssertEqual(xml.text("UploadId"), id)
                XCTAssertEqual(xml.text("Key"), "k")
                XCTAssertEqual(xml.text("MaxParts"), "2")
                XCTAssertEqual(xml.text("PartNumberMarker"), marker ?? "0")
                XCTAssertEqual(xml.text("StorageClass"), "STANDARD")
                XCTAssertNotNil(xml.text("Initiator", "ID"))
                XCTAssertEqual(xml.text("Owner", "DisplayName"), S3TestServer.accessKey)
                let numbers = xml.texts("Part", "PartNumber")
                seen += numbers
                XCTAssertEqual(xml.texts("Part", "ETag"), numbers.map { etags[Int($0)! - 1] })
                XCTAssertEqual(xml.texts("Part", "Size"), numbers.map { String(10 * Int($0)!) })
                pages += 1
                if xml.text("IsTruncated") == "true" {
                    XCTAssertEqual(xml.text("NextPartNumberMarker"), numbers.last)
                    marker = xml.text("NextPartNumberMarker")
                } else {
                    marker = nil
                }
            } while marker != nil && pages < 10
            XCTAssertEqual(seen, ["1", "2", "3", "4", "5"])
            XCTAssertEqual(pages, 3)
            let all = try await client.expect(200, "GET", Self.path("k"), query: [("uploadId", id)]).xml()
            XCTAssertEqual(all.text("MaxParts"), "1000")
            XCTAssertEqual(all.text("IsTruncated"), "false")
            assertError(try await client.call("GET", Self.path("k"), query: [("uploadId", id), ("max-parts", "many")]),
                        400, "InvalidArgument")
        }
    }

    /// ListMultipartUploads: ordered by key then initiation, with prefix, delimiter
    /// (common prefixes), key and upload-id markers, paging and URL encoding.
    func testListMultipartUploads() async throws {
        try await withServer { client, _ in
            var ids: [(key: String, id: String)] = []
            for key in ["a/1", "a/2", "b", "b", "c/x/y", "sp ace"] {
                ids.append((key, try await create(client, key)))
            }
            let all = try await listUploads(client)
            XCTAssertEqual(all.name, "ListMultipartUploadsResult")
            XCTAssertEqual(all.text("Bucket"), Self.bucket)
            XCTAssertEqual(all.texts("Upload", "Key"), ["a/1", "a/2", "b", "b", "c/x/y", "sp ace"])
            XCTAssertEqual(all.texts("Upload", "UploadId"), ids.map(\.id), "by key, then by initiation")
            XCTAssertEqual(all.text("IsTruncated"), "false")
            XCTAssertEqual(all.text("MaxUploads"), "1000")
            XCTAssertEqual(all.texts("Upload", "StorageClass"), Array(repeating: "STANDARD", count: 6))
            XCTAssertEqual(all.texts("Upload", "Initiator", "DisplayName").count, 6)
            XCTAssertEqual(all.texts("Upload", "Initiated").count, 6)

            let prefixed = try await listUploads(client, [("prefix", "a/")])
            XCTAssertEqual(prefixed.texts("Upload", "Key"), ["a/1", "a/2"])
            XCTAssertEqual(prefixed.text("Prefix"), "a/")

            let delimited = try await listUploads(client, [("delimiter", "/")])
            XCTAssertEqual(delimited.texts("Upload", "Key"), ["b", "b", "sp ace"])
            XCTAssertEqual(delimited.texts("CommonPrefixes", "Prefix"), ["a/", "c/"])
            XCTAssertEqual(delimited.text("Delimiter"), "/")

            let nested = try await listUploads(client, [("prefix", "c/"), ("delimiter", "/")])
            XCTAssertEqual(nested.texts("Upload", "Key"), [])
            XCTAssertEqual(nested.texts("CommonPrefixes", "Prefix"), ["c/x/"])

            // key-marker alone: uploads of keys after it; with upload-id-marker: after that
            // upload of the marker key.
            let afterB = try await listUploads(client, [("key-marker", "b")])
            XCTAssertEqual(afterB.texts("Upload", "Key"), ["c/x/y", "sp ace"])
            XCTAssertEqual(afterB.text("KeyMarker"), "b")
            let afterFirstB = try await listUploads(client, [("key-marker", "b"), ("upload-id-marker", ids[2].id)])
            XCTAssertEqual(afterFirstB.texts("Upload", "UploadId"), [ids[3].id, ids[4].id, ids[5].id])

            // Paging by two: every upload once, in order.
            var seen: [String] = []
            var markers: (key: String, id: String)?
            var pages = 0
            repeat {
                var query: [(name: String, value: String?)] = [("max-uploads", "2")]
                if let markers { query += [("key-marker", markers.key), ("upload-id-marker", markers.id)] }
                let page = try await listUploads(client, query)
                XCTAssertEqual(page.text("MaxUploads"), "2")
                seen += page.texts("Upload", "UploadId")
                pages += 1
                if page.text("IsTruncated") == "true" {
                    markers = (try XCTUnwrap(page.text("NextKeyMarker")), try XCTUnwrap(page.text("NextUploadIdMarker")))
                    XCTAssertEqual(markers?.id, page.texts("Upload", "UploadId").last)
                } else {
                    markers = nil
                }
            } while markers != nil && pages < 10
            XCTAssertEqual(seen, ids.map(\.id))
            XCTAssertEqual(pages, 3)

            let encoded = try await listUploads(client, [("encoding-type", "url"), ("prefix", "sp ")])
            XCTAssertEqual(encoded.texts("Upload", "Key"), ["sp%20ace"])
            XCTAssertEqual(encoded.text("Prefix"), "sp%20")
            XCTAssertEqual(encoded.text("EncodingType"), "url")
            assertError(try await client.call("GET", "/\(Self.bucket)", query: [("uploads", nil), ("max-uploads", "x")]),
                        400, "InvalidArgument")
            assertError(try await client.call("GET", "/nobucket", query: [("uploads", nil)]), 404, "NoSuchBucket")
        }
    }

    // MARK: UploadPartCopy

    /// UploadPartCopy takes a byte range of an existing object (or all of it) as a part;
    /// ranges outside the source or of another form are InvalidArgument; copy-source
    /// conditions apply.
    func testUploadPartCopyWithRange() async throws {
        try await withServer { client, _ in
            let source = Self.data(10_000, seed: 42)
            let put = try await client.put(Self.bucket, "source", source)
            let id = try await create(client, "assembled")
            let copy1 = try await client.call("PUT", Self.path("assembled"), query: [("partNumber", "1"), ("uploadId", id)],
                                              headers: [("x-amz-copy-source", "/\(Self.bucket)/source"),
                                                        ("x-amz-copy-source-range", "bytes=1000-5999")])
            XCTAssertEqual(copy1.status, 200, copy1.bodyString)
            let result = try copy1.xml()
            XCTAssertEqual(result.name, "CopyPartResult")
            let e1 = try XCTUnwrap(result.text("ETag"))
            XCTAssertEqual(e1, "\"\(md5Hex(Array(source[1000..<6000])))\"")
            XCTAssertNotNil(result.text("LastModified"))
            let copy2 = try await client.call("PUT", Self.path("assembled"), query: [("partNumber", "2"), ("uploadId", id)],
                                              headers: [("x-amz-copy-source", "\(Self.bucket)/source"),
                                                        ("x-amz-copy-source-if-match", try XCTUnwrap(put.header("ETag")))])
            XCTAssertEqual(copy2.status, 200, copy2.bodyString)
            let e2 = try XCTUnwrap(try copy2.xml().text("ETag"))
            let tail = Self.data(77, seed: 43)
            let e3 = try await putPart(client, "assembled", id, 3, tail)

            // A range past the source's end is 416 InvalidRange, as S3 answers; a malformed one 400.
            for (range, status, code) in [("bytes=0-10000", 416, "InvalidRange"), ("bytes=10000-10000", 416, "InvalidRange"),
                                          ("bytes=5-4", 400, "InvalidArgument"),
                                          ("bytes=0-", 400, "InvalidArgument"), ("0-10", 400, "InvalidArgument")] {
                let bad = try await client.call("PUT", Self.path("assembled"), query: [("partNumber", "4"), ("uploadId", id)],
                                                headers: [("x-amz-copy-source", "\(Self.bucket)/source"),
                                                          ("x-amz-copy-source-range", range)])
                assertError(bad, status, code)
            }
            let failed = try await client.call("PUT", Self.path("assembled"), query: [("partNumber", "4"), ("uploadId", id)],
                                               headers: [("x-amz-copy-source", "\(Self.bucket)/source"),
                                                         ("x-amz-copy-source-if-match", "\"0000\"")])
            assertError(failed, 412, "PreconditionFailed")
            let missing = try await client.call("PUT", Self.path("assembled"), query: [("partNumber", "4"), ("uploadId", id)],
                                                headers: [("x-amz-copy-source", "\(Self.bucket)/nothing")])
            assertError(missing, 404, "NoSuchKey")

            let done = try await complete(client, "assembled", id, [(1, e1), (2, e2), (3, e3)])
            XCTAssertEqual(done.status, 200, done.bodyString)
            let parts = [Array(source[1000..<6000]), source, tail]
            XCTAssertEqual(try done.xml().text("ETag"), "\"\(Self.multipartETag(parts))\"")
            try await expectEqual(try await client.expect(200, "GET", Self.path("assembled")).body, parts.flatMap { $0 })
        }
    }

    // MARK: GET and HEAD by part

    /// `?partNumber=N` serves that part of a multipart object as a 206 with its
    /// Content-Range and `x-amz-mp-parts-count`; a single-part object is its own part 1.
    func testGetAndHeadWithPartNumber() async throws {
        try await withServer { client, _ in
            let parts = [Self.data(4096, seed: 1), Self.data(4100, seed: 2), Self.data(100, seed: 3)]
            try await upload(client, "k", parts)
            let total = 4096 + 4100 + 100
            let second = try await client.expect(206, "GET", Self.path("k"), query: [("partNumber", "2")])
            XCTAssertEqual(second.body, parts[1])
            XCTAssertEqual(second.header("Content-Range"), "bytes 4096-8195/\(total)")
            XCTAssertEqual(second.header("x-amz-mp-parts-count"), "3")
            XCTAssertEqual(second.header("ETag"), "\"\(Self.multipartETag(parts))\"")
            let first = try await client.expect(206, "GET", Self.path("k"), query: [("partNumber", "1")])
            XCTAssertEqual(first.body, parts[0])
            XCTAssertEqual(first.header("Content-Range"), "bytes 0-4095/\(total)")
            let head = try await client.expect(206, "HEAD", Self.path("k"), query: [("partNumber", "3")])
            XCTAssertEqual(head.header("Content-Length"), "100")
            XCTAssertEqual(head.header("Content-Range"), "bytes 8196-8295/\(total)")
            XCTAssertEqual(head.header("x-amz-mp-parts-count"), "3")

            assertError(try await client.call("GET", Self.path("k"), query: [("partNumber", "4")]), 416, "InvalidPartNumber")
            let headBeyond = try await client.call("HEAD", Self.path("k"), query: [("partNumber", "4")])
            XCTAssertEqual(headBeyond.status, 416)
            assertError(try await client.call("GET", Self.path("k"), query: [("partNumber", "0")]), 400, "InvalidArgument")
            assertError(try await client.call("GET", Self.path("k"), query: [("partNumber", "1")], headers: [("Range", "bytes=0-1")]),
                        400, "InvalidRequest")

            let single = Self.data(300, seed: 9)
            try await client.put(Self.bucket, "single", single)
            let whole = try await client.expect(200, "GET", Self.path("single"), query: [("partNumber", "1")])
            XCTAssertEqual(whole.body, single)
            XCTAssertNil(whole.header("Content-Range"))
            assertError(try await client.call("GET", Self.path("single"), query: [("partNumber", "2")]), 416, "InvalidPartNumber")
        }
    }

    // MARK: Checksums (docs/S3-NOTES.md, "Multipart checksums")

    /// An upload created with CRC32 gets a COMPOSITE checksum: CRC32 over the parts'
    /// CRC32s, `-N`. Parts sent without a checksum get one computed; a part with another
    /// algorithm is InvalidRequest; part checksums stated in Complete must match.
    func testCompositeCRC32Checksum() async throws {
        try await withServer { client, _ in
            let created = try await client.expect(200, "POST", Self.path("k"), query: [("uploads", nil)],
                                                  headers: [("x-amz-checksum-algorithm", "CRC32")])
            XCTAssertEqual(created.header("x-amz-checksum-algorithm"), "CRC32")
            XCTAssertEqual(created.header("x-amz-checksum-type"), "COMPOSITE")
            let id = try XCTUnwrap(try created.xml().text("UploadId"))
            let p1 = Self.data(4096, seed: 5), p2 = Self.data(999, seed: 6)
            let crc1 = Data(ChecksumHasher.digest(.crc32, of: p1)).base64EncodedString()
            let crc2 = Data(ChecksumHasher.digest(.crc32, of: p2)).base64EncodedString()

            let sent = try await uploadPart(client, "k", id, 1, p1, headers: [("x-amz-checksum-crc32", crc1)])
            XCTAssertEqual(sent.status, 200, sent.bodyString)
            XCTAssertEqual(sent.header("x-amz-checksum-crc32"), crc1)
            let computed = try await uploadPart(client, "k", id, 2, p2)
            XCTAssertEqual(computed.status, 200, computed.bodyString)
            XCTAssertEqual(computed.header("x-amz-checksum-crc32"), crc2, "computed by the server")
            let wrongAlgorithm = try await uploadPart(client, "k", id, 3, p2, headers: [
                ("x-amz-checksum-crc32c", Data(ChecksumHasher.digest(.crc32c, of: p2)).base64EncodedString()),
            ])
            assertError(wrongAlgorithm, 400, "InvalidRequest")
            let badValue = try await uploadPart(client, "k", id, 3, p2, headers: [("x-amz-checksum-crc32", crc1)])
            assertError(badValue, 400, "BadDigest")

            let listed = try await client.expect(200, "GET", Self.path("k"), query: [("uploadId", id)]).xml()
            XCTAssertEqual(listed.texts("Part", "ChecksumCRC32"), [crc1, crc2])
            XCTAssertEqual(listed.text("ChecksumAlgorithm"), "CRC32")
            XCTAssertEqual(listed.text("ChecksumType"), "COMPOSITE")
            try await expectEqual(try await listUploads(client).texts("Upload", "ChecksumAlgorithm"), ["CRC32"])

            let e1 = try XCTUnwrap(sent.header("ETag")), e2 = try XCTUnwrap(computed.header("ETag"))
            let mismatch = try await complete(client, "k", id, [(1, e1), (2, e2)],
                                              extra: [1: "<ChecksumCRC32>\(crc2)</ChecksumCRC32>"])
            assertError(mismatch, 400, "InvalidPart")

            var composite = ChecksumHasher(.crc32)
            composite.update(ChecksumHasher.digest(.crc32, of: p1) + ChecksumHasher.digest(.crc32, of: p2))
            let expected = composite.finalizeBase64() + "-2"
            let done = try await complete(client, "k", id, [(1, e1), (2, e2)],
                                          extra: [1: "<ChecksumCRC32>\(crc1)</ChecksumCRC32>",
                                                  2: "<ChecksumCRC32>\(crc2)</ChecksumCRC32>"])
            XCTAssertEqual(done.status, 200, done.bodyString)
            let xml = try done.xml()
            XCTAssertEqual(xml.text("ChecksumCRC32"), expected)
            XCTAssertEqual(xml.text("ChecksumType"), "COMPOSITE")

            let head = try await client.expect(200, "HEAD", Self.path("k"), headers: [("x-amz-checksum-mode", "ENABLED")])
            XCTAssertEqual(head.header("x-amz-checksum-crc32"), expected)
            XCTAssertEqual(head.header("x-amz-checksum-type"), "COMPOSITE")
            let plain = try await client.expect(200, "HEAD", Self.path("k"))
            XCTAssertNil(plain.header("x-amz-checksum-crc32"), "only with checksum mode")
            // With partNumber, the checksum is that part's (S3 returns part-level checksums).
            let part2 = try await client.expect(206, "GET", Self.path("k"), query: [("partNumber", "2")],
                                                headers: [("x-amz-checksum-mode", "ENABLED")])
            XCTAssertEqual(part2.header("x-amz-checksum-crc32"), crc2)
            XCTAssertEqual(part2.body, p2)
            let list = try await client.expect(200, "GET", "/\(Self.bucket)", query: [("list-type", "2")]).xml()
            XCTAssertEqual(list.texts("Contents", "ChecksumAlgorithm"), ["CRC32"])
            XCTAssertEqual(list.texts("Contents", "ChecksumType"), ["COMPOSITE"])
        }
    }

    /// FULL_OBJECT checksums (CRC64NVME by default, CRC32 and CRC32C on request) are the
    /// CRC of the whole object, combined from the part CRCs, without `-N`.
    func testFullObjectChecksums() async throws {
        try await withServer { client, _ in
            let parts = [Self.data(4096, seed: 7), Self.data(5000, seed: 8), Self.data(33, seed: 9)]
            let whole = parts.flatMap { $0 }
            for (algorithm, typeHeader) in [(ChecksumAlgorithm.crc64nvme, nil), (.crc32, "FULL_OBJECT"),
                                            (.crc32c, "full_object")] as [(ChecksumAlgorithm, String?)] {
                let key = "full-\(algorithm.rawValue)"
                var headers: [(name: String, value: String)] = [("x-amz-checksum-algorithm", algorithm.wireName)]
                if let typeHeader { headers.append(("x-amz-checksum-type", typeHeader)) }
                let done = try await upload(client, key, parts, headers: headers)
                let expected = Data(ChecksumHasher.digest(algorithm, of: whole)).base64EncodedString()
                let xml = try done.xml()
                XCTAssertEqual(xml.text("Checksum\(algorithm.wireName)"), expected, key)
                XCTAssertEqual(xml.text("ChecksumType"), "FULL_OBJECT", key)
                let head = try await client.expect(200, "HEAD", Self.path(key), headers: [("x-amz-checksum-mode", "ENABLED")])
                XCTAssertEqual(head.header(algorithm.headerName), expected, key)
                XCTAssertEqual(head.header("x-amz-checksum-type"), "FULL_OBJECT", key)
            }
        }
    }

    /// A whole-object checksum sent with Complete is checked against the computed one.
    func testCompleteChecksumHeaderIsVerified() async throws {
        try await withServer { client, _ in
            let parts = [Self.data(4096, seed: 3), Self.data(10, seed: 4)]
            let id = try await create(client, "k", headers: [("x-amz-checksum-algorithm", "CRC64NVME")])
            let e1 = try await putPart(client, "k", id, 1, parts[0])
            let e2 = try await putPart(client, "k", id, 2, parts[1])
            let right = Data(ChecksumHasher.digest(.crc64nvme, of: parts[0] + parts[1])).base64EncodedString()
            let wrong = Data(ChecksumHasher.digest(.crc64nvme, of: parts[1])).base64EncodedString()
            assertError(try await complete(client, "k", id, [(1, e1), (2, e2)], headers: [("x-amz-checksum-crc64nvme", wrong)]),
                        400, "BadDigest")
            let done = try await complete(client, "k", id, [(1, e1), (2, e2)],
                                          headers: [("x-amz-checksum-crc64nvme", right), ("x-amz-checksum-type", "FULL_OBJECT")])
            XCTAssertEqual(done.status, 200, done.bodyString)
            XCTAssertEqual(try done.xml().text("ChecksumCRC64NVME"), right)
        }
    }

    /// Checksum algorithm and type must fit together at creation.
    func testInvalidChecksumTypeAtCreation() async throws {
        try await withServer { client, _ in
            for headers in [[("x-amz-checksum-algorithm", "SHA256"), ("x-amz-checksum-type", "FULL_OBJECT")],
                            [("x-amz-checksum-algorithm", "CRC64NVME"), ("x-amz-checksum-type", "COMPOSITE")],
                            [("x-amz-checksum-algorithm", "CRC32"), ("x-amz-checksum-type", "SOMETIMES")],
                            [("x-amz-checksum-type", "COMPOSITE")],
                            [("x-amz-checksum-algorithm", "MD5")]] as [[(name: String, value: String)]] {
                let response = try await client.call("POST", Self.path("k"), query: [("uploads", nil)], headers: headers)
                assertError(response, 400, "InvalidRequest")
            }
            let sha = try await client.expect(200, "POST", Self.path("k"), query: [("uploads", nil)],
                                              headers: [("x-amz-checksum-algorithm", "sha256")])
            XCTAssertEqual(sha.header("x-amz-checksum-algorithm"), "SHA256")
            XCTAssertEqual(sha.header("x-amz-checksum-type"), "COMPOSITE")
        }
    }

    // MARK: Completion semantics

    /// A Complete retried after it succeeded (its response was lost) answers 200 with the
    /// same result; the upload is gone for everything else.
    func testCompleteRetriedReturnsSameResult() async throws {
        try await withServer { client, _ in
            let parts = [Self.data(4096, seed: 1), Self.data(10, seed: 2)]
            let id = try await create(client, "k")
            let e1 = try await putPart(client, "k", id, 1, parts[0])
            let e2 = try await putPart(client, "k", id, 2, parts[1])
            let first = try await complete(client, "k", id, [(1, e1), (2, e2)])
            XCTAssertEqual(first.status, 200, first.bodyString)
            let again = try await complete(client, "k", id, [(1, e1), (2, e2)])
            XCTAssertEqual(again.status, 200, again.bodyString)
            XCTAssertEqual(try again.xml().text("ETag"), try first.xml().text("ETag"))
            XCTAssertEqual(try again.xml().text("ETag"), "\"\(Self.multipartETag(parts))\"")
            assertError(try await uploadPart(client, "k", id, 3, bytes("x")), 404, "NoSuchUpload")
            try await expectEqual(try await client.expect(200, "GET", Self.path("k")).body, parts.flatMap { $0 })
        }
    }

    /// Two uploads to one key are independent; the one completed last is the object.
    func testConcurrentUploadsToOneKeyLastCompleteWins() async throws {
        try await withServer { client, _ in
            let a = try await create(client, "k"), b = try await create(client, "k")
            XCTAssertNotEqual(a, b)
            let pa = Self.data(500, seed: 100), pb = Self.data(600, seed: 200)
            let ea = try await putPart(client, "k", a, 1, pa)
            let eb = try await putPart(client, "k", b, 1, pb)
            try await expectEqual(try await listUploads(client).texts("Upload", "UploadId"), [a, b])
            // Each upload has only its own part.
            assertError(try await complete(client, "k", a, [(1, eb)]), 400, "InvalidPart")
            try await client.expect(200, "POST", Self.path("k"), query: [("uploadId", b)], body: Self.completeBody([(1, eb)]))
            try await expectEqual(try await client.expect(200, "GET", Self.path("k")).body, pb)
            try await client.expect(200, "POST", Self.path("k"), query: [("uploadId", a)], body: Self.completeBody([(1, ea)]))
            try await expectEqual(try await client.expect(200, "GET", Self.path("k")).body, pa)
            try await expectEqual(try await listUploads(client).texts("Upload", "UploadId"), [])
        }
    }

    /// If-None-Match: * and If-Match on Complete are checked atomically with the commit.
    func testCompleteWithWriteConditions() async throws {
        try await withServer { client, _ in
            let existing = try await client.put(Self.bucket, "k", bytes("old"))
            let id = try await create(client, "k")
            let e1 = try await putPart(client, "k", id, 1, bytes("new"))
            assertError(try await complete(client, "k", id, [(1, e1)], headers: [("If-None-Match", "*")]), 412, "PreconditionFailed")
            assertError(try await complete(client, "k", id, [(1, e1)], headers: [("If-Match", "\"0123\"")]), 412, "PreconditionFailed")
            let done = try await complete(client, "k", id, [(1, e1)], headers: [("If-Match", try XCTUnwrap(existing.header("ETag")))])
            XCTAssertEqual(done.status, 200, done.bodyString)
            try await expectEqual(try await client.expect(200, "GET", Self.path("k")).body, bytes("new"))
        }
    }

    /// Complete documents S3 rejects as MalformedXML: no parts, a non-integer part
    /// number, another root element, a part without ETag. Without a namespace is fine.
    func testMalformedCompleteDocument() async throws {
        try await withServer { client, _ in
            let id = try await create(client, "k")
            let e1 = try await putPart(client, "k", id, 1, bytes("data"))
            for body in ["<CompleteMultipartUpload/>",
                         "<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>\(e1)</ETag></Part></CompleteMultipartUpload>",
                         "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
                         "<Complete><Part><PartNumber>1</PartNumber><ETag>\(e1)</ETag></Part></Complete>",
                         "not xml"] {
                let response = try await client.call("POST", Self.path("k"), query: [("uploadId", id)], body: bytes(body))
                assertError(response, 400, "MalformedXML")
            }
            try await client.expect(200, "POST", Self.path("k"), query: [("uploadId", id)],
                                    body: Self.completeBody([(1, e1)], namespaced: false))
        }
    }

    /// With a 5 MiB minimum (the default), parts of exactly 5 MiB complete and the result
    /// reads back whole.
    func testDefaultMinimumPartSize() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket(Self.bucket)
            let parts = [Self.data(5 << 20, seed: 1), Self.data(1, seed: 2)]
            let tooSmall = try await create(client, "small")
            let s1 = try await putPart(client, "small", tooSmall, 1, Self.data((5 << 20) - 1, seed: 1))
            let s2 = try await putPart(client, "small", tooSmall, 2, parts[1])
            assertError(try await complete(client, "small", tooSmall, [(1, s1), (2, s2)]), 400, "EntityTooSmall")
            let done = try await upload(client, "big", parts)
            XCTAssertEqual(try done.xml().text("ETag"), "\"\(Self.multipartETag(parts))\"")
            let head = try await client.expect(200, "HEAD", Self.path("big"))
            XCTAssertEqual(head.header("Content-Length"), String((5 << 20) + 1))
        }
    }
}
