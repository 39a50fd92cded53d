import Foundation
import XCTest
import ObjectStore
@testable import S3Server

/// Bucket versioning over HTTP, as S3 answers: Put/GetBucketVersioning, version ids on
/// writes, GET/HEAD/DELETE with versionId, delete markers and their headers,
/// ListObjectVersions, DeleteObjects with versions, copies of a version.
final class S3VersioningTests: XCTestCase {
    static func versioning(_ status: String, mfa: String? = nil) -> [UInt8] {
        var body = #"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#
        if let mfa { body += "<MfaDelete>\(mfa)</MfaDelete>" }
        return bytes(body + "<Status>\(status)</Status></VersioningConfiguration>")
    }

    private func enable(_ client: S3TestClient, _ bucket: String, _ status: String = "Enabled") async throws {
        try await client.expect(200, "PUT", "/\(bucket)", query: [("versioning", nil)], body: Self.versioning(status))
    }

    /// GetBucketVersioning is an empty configuration until set; Enabled and Suspended round
    /// trip; anything else is MalformedXML and MfaDelete Enabled is NotImplemented, and
    /// neither changes the state.
    func testBucketVersioningConfigurationRoundTripAndErrors() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("ver")
            let empty = try await client.expect(200, "GET", "/ver", query: [("versioning", nil)])
            XCTAssertEqual(try empty.xml().name, "VersioningConfiguration")
            XCTAssertNil(try empty.xml().text("Status"), "never enabled: no Status")
            try await self.enable(client, "ver")
            let enabled = try await client.expect(200, "GET", "/ver", query: [("versioning", nil)])
            XCTAssertEqual(try enabled.xml().text("Status"), "Enabled")
            let cases: [([UInt8], String)] = [
                (Self.versioning("On"), "MalformedXML"),
                (bytes("<VersioningConfiguration/>"), "MalformedXML"),
                (bytes("<VersioningConfiguration><Status>"), "MalformedXML"),
                (Self.versioning("Suspended", mfa: "Enabled"), "NotImplemented"),
                // Validated before the unimplemented part: a bad Status is S3's MalformedXML.
                (Self.versioning("On", mfa: "Enabled"), "MalformedXML"),
            ]
            for (body, code) in cases {
                let response = try await client.call("PUT", "/ver", query: [("versioning", nil)], body: body)
                XCTAssertEqual(response.errorCode, code, String(decoding: body, as: UTF8.self))
            }
            let still = try await client.expect(200, "GET", "/ver", query: [("versioning", nil)])
            XCTAssertEqual(try still.xml().text("Status"), "Enabled", "a refused request changes nothing")
            try await client.expect(200, "PUT", "/ver", query: [("versioning", nil)], body: Self.versioning("Suspended", mfa: "Disabled"))
            let suspended = try await client.expect(200, "GET", "/ver", query: [("versioning", nil)])
            XCTAssertEqual(try suspended.xml().text("Status"), "Suspended")
            let missing = try await client.expect(404, "GET", "/nope", query: [("versioning", nil)])
            XCTAssertEqual(missing.errorCode, "NoSuchBucket")
        }
    }

    /// PUT returns x-amz-version-id only in versioned buckets; GET/HEAD by versionId serve
    /// old versions; malformed ids are 400 InvalidArgument, unknown ones 404 NoSuchVersion.
    func testVersionIdsOnWritesAndReadsByVersion() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("ver")
            let plain = try await client.put("ver", "k", bytes("zero"))
            XCTAssertNil(plain.header("x-amz-version-id"), "an unversioned bucket names no version")
            try await self.enable(client, "ver")
            let first = try await client.put("ver", "k", bytes("one"))
            let second = try await client.put("ver", "k", bytes("two"))
            let id1 = try XCTUnwrap(first.header("x-amz-version-id")), id2 = try XCTUnwrap(second.header("x-amz-version-id"))
            XCTAssertNotEqual(id1, id2)
            XCTAssertEqual(id1.count, 32)
            let current = try await client.expect(200, "GET", "/ver/k")
            XCTAssertEqual(current.bodyString, "two")
            XCTAssertEqual(current.header("x-amz-version-id"), id2)
            let old = try await client.expect(200, "GET", "/ver/k", query: [("versionId", id1)])
            XCTAssertEqual(old.bodyString, "one")
            XCTAssertEqual(old.header("x-amz-version-id"), id1)
            let null = try await client.expect(200, "GET", "/ver/k", query: [("versionId", "null")])
            XCTAssertEqual(null.bodyString, "zero", "the object from before versioning is the null version")
            XCTAssertEqual(null.header("x-amz-version-id"), "null")
            let head = try await client.expect(200, "HEAD", "/ver/k", query: [("versionId", id1)])
            XCTAssertEqual(head.header("content-length"), "3")

            let malformed = try await client.expect(400, "GET", "/ver/k", query: [("versionId", "nope")])
            XCTAssertEqual(malformed.errorCode, "InvalidArgument")
            let unknown = try await client.expect(404, "GET", "/ver/k", query: [("versionId", ObjectStore.newVersionID())])
            XCTAssertEqual(unknown.errorCode, "NoSuchVersion")
            let unknownHead = try await client.expect(404, "HEAD", "/ver/k", query: [("versionId", ObjectStore.newVersionID())])
            XCTAssertEqual(unknownHead.header("x-amz-error-code"), "NoSuchVersion")

            // Suspended: writes replace the null version; as S3, the answer to the write names
            // no version, and reads of the null version name it `null`.
            try await self.enable(client, "ver", "Suspended")
            let suspended = try await client.put("ver", "k", bytes("three"))
            XCTAssertNil(suspended.header("x-amz-version-id"), "a write into a Suspended bucket names no version")
            let replaced = try await client.expect(200, "GET", "/ver/k", query: [("versionId", "null")])
            XCTAssertEqual(replaced.bodyString, "three")
            XCTAssertEqual(replaced.header("x-amz-version-id"), "null")
            // The current object is the null version: GET and HEAD name it, as S3 does in a
            // bucket with versioning configured.
            for method in ["GET", "HEAD"] {
                let current = try await client.expect(200, method, "/ver/k")
                XCTAssertEqual(current.header("x-amz-version-id"), "null", method)
            }
        }
    }

    /// DELETE without versionId makes a delete marker (x-amz-delete-marker, its version id);
    /// GET/HEAD then answer 404 NoSuchKey with x-amz-delete-marker; the marker by id is 405
    /// MethodNotAllowed with Last-Modified; DELETE of the marker by id brings the object back.
    func testDeleteMarkersAndTheirHeaders() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("ver")
            try await self.enable(client, "ver")
            let put = try await client.put("ver", "k", bytes("data"))
            let id = try XCTUnwrap(put.header("x-amz-version-id"))
            let deleted = try await client.expect(204, "DELETE", "/ver/k")
            XCTAssertEqual(deleted.header("x-amz-delete-marker"), "true")
            let marker = try XCTUnwrap(deleted.header("x-amz-version-id"))
            XCTAssertNotEqual(marker, id)

            let get = try await client.expect(404, "GET", "/ver/k")
            XCTAssertEqual(get.errorCode, "NoSuchKey")
            XCTAssertEqual(get.header("x-amz-delete-marker"), "true")
            XCTAssertEqual(get.header("x-amz-version-id"), marker)
            let head = try await client.expect(404, "HEAD", "/ver/k")
            XCTAssertEqual(head.header("x-amz-delete-marker"), "true")
            let byId = try await client.expect(405, "GET", "/ver/k", query: [("versionId", marker)])
            XCTAssertEqual(byId.errorCode, "MethodNotAllowed")
            XCTAssertEqual(byId.header("x-amz-delete-marker"), "true")
            XCTAssertNotNil(byId.header("last-modified"))
            XCTAssertEqual(byId.header("allow"), "DELETE")
            let list = try await client.expect(200, "GET", "/ver", query: [("list-type", "2")])
            XCTAssertEqual(try list.xml().texts("Contents", "Key"), [], "ListObjectsV2 hides a key whose current version is a marker")
            let bucketDelete = try await client.expect(409, "DELETE", "/ver")
            XCTAssertEqual(bucketDelete.errorCode, "BucketNotEmpty")

            let removeMarker = try await client.expect(204, "DELETE", "/ver/k", query: [("versionId", marker)])
            XCTAssertEqual(removeMarker.header("x-amz-delete-marker"), "true")
            XCTAssertEqual(removeMarker.header("x-amz-version-id"), marker)
            try await client.expect(200, "GET", "/ver/k")
            let removeVersion = try await client.expect(204, "DELETE", "/ver/k", query: [("versionId", id)])
            XCTAssertEqual(removeVersion.header("x-amz-version-id"), id)
            XCTAssertNil(removeVersion.header("x-amz-delete-marker"))
            try await client.expect(404, "GET", "/ver/k")
            // A well-formed unknown version: 204, as S3; a malformed one: 400.
            let unknown = ObjectStore.newVersionID()
            let gone = try await client.expect(204, "DELETE", "/ver/k", query: [("versionId", unknown)])
            XCTAssertEqual(gone.header("x-amz-version-id"), unknown)
            try await client.expect(400, "DELETE", "/ver/k", query: [("versionId", "bad id")])
            try await client.expect(204, "DELETE", "/ver")
        }
    }

    /// ListObjectVersions: Version and DeleteMarker entries newest first per key with
    /// IsLatest, the null version as `null`, paging by key and version-id markers,
    /// delimiter, and its errors.
    func testListObjectVersions() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("ver")
            try await client.put("ver", "a", bytes("0"))
            try await self.enable(client, "ver")
            try await client.put("ver", "a", bytes("1"))
            try await client.put("ver", "dir/b", bytes("2"))
            try await client.expect(204, "DELETE", "/ver/a")
            let all = try await client.expect(200, "GET", "/ver", query: [("versions", nil)])
            let xml = try all.xml()
            XCTAssertEqual(xml.name, "ListVersionsResult")
            XCTAssertEqual(xml.texts("Version", "Key"), ["a", "a", "dir/b"])
            XCTAssertEqual(xml.texts("Version", "VersionId").dropFirst().first, "null")
            XCTAssertEqual(xml.texts("DeleteMarker", "Key"), ["a"])
            XCTAssertEqual(xml.texts("DeleteMarker", "IsLatest"), ["true"])
            XCTAssertEqual(xml.texts("Version", "IsLatest"), ["false", "false", "true"])
            XCTAssertEqual(xml.texts("Version", "Owner", "DisplayName").count, 3)
            XCTAssertEqual(xml.text("IsTruncated"), "false")
            // The entries are interleaved in order: the marker comes before a's versions.
            XCTAssertEqual(xml.children.filter { ["Version", "DeleteMarker"].contains($0.name) }.map(\.name),
                           ["DeleteMarker", "Version", "Version", "Version"])

            let page = try await client.expect(200, "GET", "/ver", query: [("versions", nil), ("max-keys", "2")])
            let pageXML = try page.xml()
            XCTAssertEqual(pageXML.text("IsTruncated"), "true")
            XCTAssertEqual(pageXML.text("NextKeyMarker"), "a")
            let nextVersion = try XCTUnwrap(pageXML.text("NextVersionIdMarker"))
            let rest = try await client.expect(200, "GET", "/ver", query: [("versions", nil), ("key-marker", "a"),
                                                                          ("version-id-marker", nextVersion)])
            XCTAssertEqual(try rest.xml().texts("Version", "VersionId").first, "null")
            XCTAssertEqual(try rest.xml().texts("Version", "Key"), ["a", "dir/b"])

            let rolled = try await client.expect(200, "GET", "/ver", query: [("versions", nil), ("delimiter", "/")])
            XCTAssertEqual(try rolled.xml().texts("CommonPrefixes", "Prefix"), ["dir/"])
            let prefixed = try await client.expect(200, "GET", "/ver", query: [("versions", nil), ("prefix", "dir/")])
            XCTAssertEqual(try prefixed.xml().texts("Version", "Key"), ["dir/b"])

            let noKey = try await client.expect(400, "GET", "/ver", query: [("versions", nil), ("version-id-marker", nextVersion)])
            XCTAssertEqual(noKey.errorCode, "InvalidArgument")
            let badEncoding = try await client.expect(400, "GET", "/ver", query: [("versions", nil), ("encoding-type", "xml")])
            XCTAssertEqual(badEncoding.errorCode, "InvalidArgument")
            try await client.expect(404, "GET", "/nope", query: [("versions", nil)])
        }
    }

    /// DeleteObjects with VersionId entries: a version removed names itself, a marker
    /// made is DeleteMarker + DeleteMarkerVersionId.
    func testDeleteObjectsWithVersions() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("ver")
            try await self.enable(client, "ver")
            let put = try await client.put("ver", "a", bytes("1"))
            let id = try XCTUnwrap(put.header("x-amz-version-id"))
            try await client.put("ver", "b", bytes("2"))
            let body = bytes("<Delete><Object><Key>a</Key><VersionId>\(id)</VersionId></Object><Object><Key>b</Key></Object></Delete>")
            let response = try await client.expect(200, "POST", "/ver", query: [("delete", nil)],
                                                   headers: [("Content-MD5", contentMD5(body))], body: body)
            let xml = try response.xml()
            XCTAssertEqual(xml.texts("Deleted", "Key"), ["a", "b"])
            XCTAssertEqual(xml.texts("Deleted", "VersionId"), [id])
            XCTAssertEqual(xml.texts("Deleted", "DeleteMarker"), ["true"])
            XCTAssertEqual(xml.texts("Deleted", "DeleteMarkerVersionId").count, 1)
            try await client.expect(404, "GET", "/ver/a", query: [("versionId", id)])
            try await client.expect(404, "GET", "/ver/b")
        }
    }

    /// CopyObject from a version (`?versionId=` in x-amz-copy-source): the copy is a new
    /// version; the answer names both; a marker as the source is InvalidRequest.
    func testCopyFromAVersion() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("ver")
            try await self.enable(client, "ver")
            let first = try await client.put("ver", "src", bytes("old"))
            try await client.put("ver", "src", bytes("new"))
            let id = try XCTUnwrap(first.header("x-amz-version-id"))
            let copy = try await client.expect(200, "PUT", "/ver/dst", headers: [("x-amz-copy-source", "/ver/src?versionId=\(id)")])
            XCTAssertEqual(copy.header("x-amz-copy-source-version-id"), id)
            XCTAssertNotNil(copy.header("x-amz-version-id"))
            let got = try await client.expect(200, "GET", "/ver/dst")
            XCTAssertEqual(got.bodyString, "old")
            let deleted = try await client.expect(204, "DELETE", "/ver/src")
            let marker = try XCTUnwrap(deleted.header("x-amz-version-id"))
            let fromMarker = try await client.expect(400, "PUT", "/ver/x", headers: [("x-amz-copy-source", "/ver/src?versionId=\(marker)")])
            XCTAssertEqual(fromMarker.errorCode, "InvalidRequest")
            let current = try await client.expect(404, "PUT", "/ver/x", headers: [("x-amz-copy-source", "/ver/src")])
            XCTAssertEqual(current.errorCode, "NoSuchKey")
            let unknown = try await client.expect(404, "PUT", "/ver/x",
                                                  headers: [("x-amz-copy-source", "/ver/src?versionId=\(ObjectStore.newVersionID())")])
            XCTAssertEqual(unknown.errorCode, "NoSuchVersion")
            let malformed = try await client.expect(400, "PUT", "/ver/x", headers: [("x-amz-copy-source", "/ver/src?versionId=zz")])
            XCTAssertEqual(malformed.errorCode, "InvalidArgument")
        }
    }
}
