import Foundation
import XCTest
@testable import S3Server

/// CopyObject (PUT with x-amz-copy-source) through a real server: metadata directives,
/// copying onto itself, source encoding, copy-source conditions and independence of the copy.
final class S3CopyObjectTests: XCTestCase {
    static let sourceBody = bytes("the source object's bytes")

    /// Runs `body` with bucket `src` holding `key` (text/plain, x-amz-meta-origin: source)
    /// and an empty bucket `dst`.
    func withSource(key: String = "source.txt", _ body: (S3TestClient, HTTPResponse) async throws -> Void) async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("src")
            try await client.createBucket("dst")
            let put = try await client.put("src", key, Self.sourceBody, headers: [
                ("Content-Type", "text/plain"), ("Cache-Control", "max-age=5"), ("x-amz-meta-origin", "source"),
            ])
            try await body(client, put)
        }
    }

    /// PUTs `dst/key` as a copy of `source` (the x-amz-copy-source value, sent as is).
    func copy(_ client: S3TestClient, source: String = "src/source.txt", to key: String = "copy.txt",
              bucket: String = "dst", headers: [(name: String, value: String)] = []) async throws -> HTTPResponse {
        try await client.call("PUT", S3Path.encode(bucket: bucket, key: key),
                              headers: [("x-amz-copy-source", source)] + headers)
    }

    /// The metadata directive COPY (the default) keeps the source's bytes, Content-Type,
    /// standard headers and user metadata; the copy's ETag is the source's (same bytes).
    /// Metadata headers sent with a COPY directive are ignored.
    func testCopyDirectiveKeepsSourceMetadata() async throws {
        try await withSource { client, put in
            for (key, directive) in [("default.txt", nil), ("explicit.txt", "COPY")] as [(String, String?)] {
                var headers: [(name: String, value: String)] = [("x-amz-meta-ignored", "yes"), ("Content-Type", "image/png")]
                if let directive { headers.append(("x-amz-metadata-directive", directive)) }
                let response = try await copy(client, to: key, headers: headers)
                XCTAssertEqual(response.status, 200, response.bodyString)
                let get = try await client.call("GET", "/dst/\(key)")
                XCTAssertEqual(get.body, Self.sourceBody)
                XCTAssertEqual(get.header("Content-Type"), "text/plain")
                XCTAssertEqual(get.header("Cache-Control"), "max-age=5")
                XCTAssertEqual(get.header("x-amz-meta-origin"), "source")
                XCTAssertNil(get.header("x-amz-meta-ignored"))
                XCTAssertEqual(get.header("ETag"), put.header("ETag"))
            }
        }
    }

    /// REPLACE takes the metadata from the request: the source's user metadata and
    /// standard headers are gone, the request's are stored.
    func testReplaceDirectiveTakesNewMetadata() async throws {
        try await withSource { client, _ in
            let response = try await copy(client, headers: [
                ("x-amz-metadata-directive", "REPLACE"), ("Content-Type", "application/json"), ("x-amz-meta-new", "value"),
            ])
            XCTAssertEqual(response.status, 200, response.bodyString)
            let get = try await client.call("GET", "/dst/copy.txt")
            XCTAssertEqual(get.body, Self.sourceBody)
            XCTAssertEqual(get.header("Content-Type"), "application/json")
            XCTAssertEqual(get.header("x-amz-meta-new"), "value")
            XCTAssertNil(get.header("x-amz-meta-origin"))
            XCTAssertNil(get.header("Cache-Control"))
        }
    }

    /// Copying an object onto itself without changing anything is 400 InvalidRequest
    /// ("…copy an object to itself without changing the object's metadata…"); with
    /// REPLACE it is 200 and the object gets the new metadata, bytes unchanged.
    func testCopyOntoItselfNeedsReplace() async throws {
        try await withSource { client, put in
            let refused = try await copy(client, to: "source.txt", bucket: "src")
            XCTAssertEqual(refused.status, 400)
            XCTAssertEqual(refused.errorCode, "InvalidRequest")
            let explicitCopy = try await copy(client, to: "source.txt", bucket: "src",
                                              headers: [("x-amz-metadata-directive", "COPY")])
            XCTAssertEqual(explicitCopy.status, 400)

            let replaced = try await copy(client, to: "source.txt", bucket: "src", headers: [
                ("x-amz-metadata-directive", "REPLACE"), ("x-amz-meta-origin", "rewritten"), ("Content-Type", "text/html"),
            ])
            XCTAssertEqual(replaced.status, 200, replaced.bodyString)
            let get = try await client.call("GET", "/src/source.txt")
            XCTAssertEqual(get.body, Self.sourceBody)
            XCTAssertEqual(get.header("x-amz-meta-origin"), "rewritten")
            XCTAssertEqual(get.header("Content-Type"), "text/html")
            XCTAssertEqual(get.header("ETag"), put.header("ETag"))
        }
    }

    /// An unknown metadata directive is 400 InvalidArgument.
    func testUnknownMetadataDirectiveIsInvalidArgument() async throws {
        try await withSource { client, _ in
            let response = try await copy(client, headers: [("x-amz-metadata-directive", "MERGE")])
            XCTAssertEqual(response.status, 400)
            XCTAssertEqual(response.errorCode, "InvalidArgument")
        }
    }

    /// x-amz-copy-source is URL-encoded (docs/S3-NOTES.md, "x-amz-copy-source is
    /// URL-encoded"): a key with spaces, `+`, `?`, `#`, `%`, `&` and non-ASCII copies with
    /// and without the leading `/`. A `+` in the header is a literal plus, not a space.
    func testCopySourceIsURLEncodedWithOrWithoutLeadingSlash() async throws {
        let odd = "dir/a b+c?d#e%f&g=h/ü.txt"
        try await withSource(key: odd) { client, _ in
            let encoded = "src/" + S3Path.encodeKey(odd)
            for (source, target) in [(encoded, "no-slash"), ("/" + encoded, "slash")] {
                let response = try await copy(client, source: source, to: target)
                XCTAssertEqual(response.status, 200, "\(source): \(response.bodyString)")
                let get = try await client.call("GET", "/dst/\(target)")
                XCTAssertEqual(get.body, Self.sourceBody, source)
            }
            // `+` kept literal: "a b+c" with the space encoded and the plus not.
            let plusLiteral = "src/dir/a%20b+c%3Fd%23e%25f%26g%3Dh/%C3%BC.txt"
            let response = try await copy(client, source: plusLiteral, to: "plus")
            XCTAssertEqual(response.status, 200, response.bodyString)
            // A source with ?versionId=null is the current version.
            let versioned = try await copy(client, source: encoded + "?versionId=null", to: "versioned")
            XCTAssertEqual(versioned.status, 200, versioned.bodyString)
        }
    }

    /// The result document: CopyObjectResult with the quoted ETag (hex MD5 of the bytes)
    /// and LastModified in ISO 8601.
    func testCopyResultHasETagAndLastModified() async throws {
        try await withSource { client, _ in
            let response = try await copy(client)
            XCTAssertEqual(response.status, 200)
            let xml = try response.xml()
            XCTAssertEqual(xml.name, "CopyObjectResult")
            XCTAssertEqual(xml.text("ETag"), "\"\(md5Hex(Self.sourceBody))\"")
            let lastModified = try XCTUnwrap(xml.text("LastModified"))
            XCTAssertTrue(S3BucketOperationTests.isISO8601(lastModified), lastModified)
            let head = try await client.call("HEAD", "/dst/copy.txt")
            XCTAssertEqual(head.header("ETag"), xml.text("ETag"))
        }
    }

    /// x-amz-copy-source-if-match / -if-none-match / -if-modified-since /
    /// -if-unmodified-since: 412 PreconditionFailed when the condition fails (nothing is
    /// written); 200 when it holds.
    func testCopySourceConditionsFailWith412() async throws {
        try await withSource { client, put in
            let etag = try XCTUnwrap(put.header("ETag"))
            let head = try await client.call("HEAD", "/src/source.txt")
            let lastModified = try XCTUnwrap(head.header("Last-Modified"))
            let past = httpDate(Date(timeIntervalSinceNow: -3600))
            let future = httpDate(Date(timeIntervalSinceNow: 3600))
            let failing: [(name: String, value: String)] = [
                ("x-amz-copy-source-if-match", "\"0123456789abcdef0123456789abcdef\""),
                ("x-amz-copy-source-if-none-match", etag),
                ("x-amz-copy-source-if-modified-since", future),
                ("x-amz-copy-source-if-modified-since", lastModified),
                ("x-amz-copy-source-if-unmodified-since", past),
            ]
            for header in failing {
                let response = try await copy(client, to: "conditional", headers: [header])
                XCTAssertEqual(response.status, 412, "\(header)")
                XCTAssertEqual(response.errorCode, "PreconditionFailed", "\(header)")
            }
            try await client.expect(404, "HEAD", "/dst/conditional", message: "nothing written")

            let passing: [(name: String, value: String)] = [
                ("x-amz-copy-source-if-match", etag),
                ("x-amz-copy-source-if-none-match", "\"other\""),
                ("x-amz-copy-source-if-modified-since", past),
                ("x-amz-copy-source-if-unmodified-since", lastModified),
            ]
            for header in passing {
                let response = try await copy(client, to: "conditional", headers: [header])
                XCTAssertEqual(response.status, 200, "\(header): \(response.bodyString)")
            }
        }
    }

    /// CopyObject documents: if-match true and if-unmodified-since false → 200 (copied);
    /// if-none-match false and if-modified-since true → 412.
    func testCopySourceConditionCombinationsAsDocumented() async throws {
        try await withSource { client, put in
            let etag = try XCTUnwrap(put.header("ETag"))
            let past = httpDate(Date(timeIntervalSinceNow: -3600))
            let copied = try await copy(client, headers: [
                ("x-amz-copy-source-if-match", etag), ("x-amz-copy-source-if-unmodified-since", past),
            ])
            XCTAssertEqual(copied.status, 200, copied.bodyString)
            let refused = try await copy(client, to: "other", headers: [
                ("x-amz-copy-source-if-none-match", etag), ("x-amz-copy-source-if-modified-since", past),
            ])
            XCTAssertEqual(refused.status, 412)
        }
    }

    /// A missing source key is 404 NoSuchKey; a missing source bucket 404 NoSuchBucket;
    /// a missing destination bucket 404 NoSuchBucket; a source naming no key 400.
    func testMissingSourceIsNoSuchKey() async throws {
        try await withSource { client, _ in
            let noKey = try await copy(client, source: "src/not-there")
            XCTAssertEqual(noKey.status, 404)
            XCTAssertEqual(noKey.errorCode, "NoSuchKey")
            let noBucket = try await copy(client, source: "no-such-src/source.txt")
            XCTAssertEqual(noBucket.status, 404)
            XCTAssertEqual(noBucket.errorCode, "NoSuchBucket")
            let noDestination = try await copy(client, bucket: "no-such-dst")
            XCTAssertEqual(noDestination.status, 404)
            XCTAssertEqual(noDestination.errorCode, "NoSuchBucket")
            let bucketOnly = try await copy(client, source: "src")
            XCTAssertEqual(bucketOnly.status, 400)
            try await client.expect(404, "HEAD", "/dst/copy.txt")
        }
    }

    /// The copy is an object of its own: deleting or overwriting the source leaves it as
    /// it was.
    func testCopyIsIndependentOfTheSource() async throws {
        try await withSource { client, _ in
            let kept = try await copy(client, to: "kept").status
            XCTAssertEqual(kept, 200)
            let keptToo = try await copy(client, to: "kept-too").status
            XCTAssertEqual(keptToo, 200)
            try await client.put("src", "source.txt", bytes("overwritten"))
            let keptTooBody = try await client.call("GET", "/dst/kept-too").body
            XCTAssertEqual(keptTooBody, Self.sourceBody)
            try await client.expect(204, "DELETE", "/src/source.txt")
            let get = try await client.call("GET", "/dst/kept")
            XCTAssertEqual(get.status, 200)
            XCTAssertEqual(get.body, Self.sourceBody)
            XCTAssertEqual(get.header("x-amz-meta-origin"), "source")
        }
    }

    /// A copy over an existing destination replaces it.
    func testCopyOverExistingDestinationReplacesIt() async throws {
        try await withSource { client, put in
            try await client.put("dst", "copy.txt", bytes("old destination"), headers: [("x-amz-meta-stale", "1")])
            let copied = try await copy(client).status
            XCTAssertEqual(copied, 200)
            let get = try await client.call("GET", "/dst/copy.txt")
            XCTAssertEqual(get.body, Self.sourceBody)
            XCTAssertNil(get.header("x-amz-meta-stale"))
            XCTAssertEqual(get.header("ETag"), put.header("ETag"))
        }
    }
}
