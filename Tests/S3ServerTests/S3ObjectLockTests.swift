import Foundation
import ObjectStore
import StrataTestSupport
import XCTest
@testable import S3Server

/// Object Lock as AWS defines it (S3 User Guide, "Locking objects with Object Lock"):
/// lock buckets, default retention, retention and legal hold per version, what may and may
/// not remove a protected version, and S3's errors.
final class S3ObjectLockTests: XCTestCase {
    static func code(_ response: HTTPResponse) -> String? { try? response.xml().text("Code") }

    static func date(_ millisecondsFromNow: Int64) -> String {
        TimeFormat.iso8601(milliseconds: Int64(Date().timeIntervalSince1970 * 1000) + millisecondsFromNow)
    }

    /// PUT headers with a lock need an integrity check (S3's rule): a Content-MD5.
    static func lockHeaders(_ body: [UInt8], _ extra: [(name: String, value: String)]) -> [(name: String, value: String)] {
        [("Content-MD5", contentMD5(body))] + extra
    }

    func withLockBucket<T>(_ body: (S3TestClient) async throws -> T) async throws -> T {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.expect(200, "PUT", "/locked", headers: [("x-amz-bucket-object-lock-enabled", "true")])
            return try await body(client)
        }
    }

    func testALockBucketIsVersionedForGoodAndReportsItsConfiguration() async throws {
        try await withLockBucket { client in
            let versioning = try await client.expect(200, "GET", "/locked", query: [("versioning", nil)])
            XCTAssertEqual(try versioning.xml().text("Status"), "Enabled")
            let suspend = bytes("<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>")
            let refused = try await client.expect(409, "PUT", "/locked", query: [("versioning", nil)], body: suspend)
            XCTAssertEqual(Self.code(refused), "InvalidBucketState")
            let config = try await client.expect(200, "GET", "/locked", query: [("object-lock", nil)])
            XCTAssertEqual(try config.xml().text("ObjectLockEnabled"), "Enabled")
            XCTAssertNil(try config.xml().text("Rule", "DefaultRetention", "Mode"))

            try await client.createBucket("plain")
            let missing = try await client.expect(404, "GET", "/plain", query: [("object-lock", nil)])
            XCTAssertEqual(Self.code(missing), "ObjectLockConfigurationNotFoundError")
            let document = bytes("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>")
            let unversioned = try await client.expect(409, "PUT", "/plain", query: [("object-lock", nil)], body: document)
            XCTAssertEqual(Self.code(unversioned), "InvalidBucketState")
            let retention = try await client.expect(400, "GET", "/plain/k", query: [("retention", nil)])
            XCTAssertEqual(Self.code(retention), "InvalidRequest")
            let headers = try await client.expect(400, "PUT", "/plain/k", headers: Self.lockHeaders([1], [("x-amz-object-lock-legal-hold", "ON")]),
                                                  body: [1])
            XCTAssertEqual(try headers.xml().text("Message"), "Bucket is missing Object Lock Configuration")
            for bad in ["<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>",
                        "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>"] {
                try await client.expect(400, "PUT", "/locked", query: [("object-lock", nil)], body: bytes(bad))
            }
            // The default retention applies to writes without lock headers.
            try await client.expect(200, "PUT", "/locked", query: [("object-lock", nil)], body: document)
            let put = try await client.expect(200, "PUT", "/locked/d", headers: Self.lockHeaders([1, 2], []), body: [1, 2])
            let head = try await client.expect(200, "HEAD", "/locked/d")
            XCTAssertEqual(head.header("x-amz-object-lock-mode"), "GOVERNANCE")
            XCTAssertNotNil(head.header("x-amz-object-lock-retain-until-date"))
            // Without Content-MD5 or a checksum, a write the default locks is refused.
            let unchecked = try await client.expect(400, "PUT", "/locked/e", body: [1, 2])
            XCTAssertEqual(Self.code(unchecked), "InvalidRequest")
            _ = put
        }
    }

    func testRetentionAndLegalHoldProtectAVersionAsAWSRulesIt() async throws {
        try await withLockBucket { client in
            let body: [UInt8] = [7, 7, 7]
            let put = try await client.expect(200, "PUT", "/locked/c", headers: Self.lockHeaders(body, [
                ("x-amz-object-lock-mode", "COMPLIANCE"), ("x-amz-object-lock-retain-until-date", Self.date(3_600_000)),
            ]), body: body)
            let version = try XCTUnwrap(put.header("x-amz-version-id"))
            let get = try await client.expect(200, "GET", "/locked/c")
            XCTAssertEqual(get.header("x-amz-object-lock-mode"), "COMPLIANCE")
            XCTAssertEqual(get.header("x-amz-object-lock-legal-hold"), "OFF")
            // Removing it by id is refused; a delete without an id adds a marker.
            let refused = try await client.expect(403, "DELETE", "/locked/c", query: [("versionId", version)])
            XCTAssertEqual(Self.code(refused), "AccessDenied")
            try await client.expect(403, "DELETE", "/locked/c", query: [("versionId", version)],
                                    headers: [("x-amz-bypass-governance-retention", "true")])
            let marker = try await client.expect(204, "DELETE", "/locked/c")
            XCTAssertEqual(marker.header("x-amz-delete-marker"), "true")
            let kept = try await client.expect(200, "GET", "/locked/c", query: [("versionId", version)])
            XCTAssertEqual(kept.body, body)
            // COMPLIANCE only lengthens.
            func retention(_ mode: String, _ offset: Int64) -> [UInt8] {
                bytes("<Retention><Mode>\(mode)</Mode><RetainUntilDate>\(Self.date(offset))</RetainUntilDate></Retention>")
            }
            try await client.expect(403, "PUT", "/locked/c", query: [("retention", nil), ("versionId", version)],
                                    body: retention("COMPLIANCE", 60_000))
            try await client.expect(403, "PUT", "/locked/c", query: [("retention", nil), ("versionId", version)],
                                    body: retention("GOVERNANCE", 7_200_000))
            try await client.expect(200, "PUT", "/locked/c", query: [("retention", nil), ("versionId", version)],
                                    body: retention("COMPLIANCE", 7_200_000))
            let past = try await client.expect(400, "PUT", "/locked/c", query: [("retention", nil), ("versionId", version)],
                                               body: retention("COMPLIANCE", -60_000))
            XCTAssertEqual(Self.code(past), "InvalidArgument")
            let read = try await client.expect(200, "GET", "/locked/c", query: [("retention", nil), ("versionId", version)])
            XCTAssertEqual(try read.xml().text("Mode"), "COMPLIANCE")

            // GOVERNANCE: shortened only with the bypass (the owner may bypass).
            let g = try await client.expect(200, "PUT", "/locked/g", headers: Self.lockHeaders(body, [
                ("x-amz-object-lock-mode", "GOVERNANCE"), ("x-amz-object-lock-retain-until-date", Self.date(3_600_000)),
            ]), body: body)
            let gVersion = try XCTUnwrap(g.header("x-amz-version-id"))
            try await client.expect(403, "PUT", "/locked/g", query: [("retention", nil), ("versionId", gVersion)],
                                    body: retention("GOVERNANCE", 60_000))
            try await client.expect(403, "DELETE", "/locked/g", query: [("versionId", gVersion)])
            try await client.expect(204, "DELETE", "/locked/g", query: [("versionId", gVersion)],
                                    headers: [("x-amz-bypass-governance-retention", "true")])

            // A legal hold protects until lifted, whatever the retention.
            let h = try await client.expect(200, "PUT", "/locked/h", headers: Self.lockHeaders(body, [("x-amz-object-lock-legal-hold", "ON")]),
                                            body: body)
            let hVersion = try XCTUnwrap(h.header("x-amz-version-id"))
            let hold = try await client.expect(200, "GET", "/locked/h", query: [("legal-hold", nil), ("versionId", hVersion)])
            XCTAssertEqual(try hold.xml().text("Status"), "ON")
            let noRetention = try await client.expect(404, "GET", "/locked/h", query: [("retention", nil), ("versionId", hVersion)])
            XCTAssertEqual(Self.code(noRetention), "NoSuchObjectLockConfiguration")
            try await client.expect(403, "DELETE", "/locked/h", query: [("versionId", hVersion)],
                                    headers: [("x-amz-bypass-governance-retention", "true")])
            // DeleteObjects: the locked version is a per-key AccessDenied, the other key goes.
            try await client.put("locked", "free", body)
            let free = try await client.expect(200, "GET", "/locked", query: [("versions", nil), ("prefix", "free")])
            let freeVersion = try XCTUnwrap(free.xml().text("Version", "VersionId"))
            let delete = bytes("<Delete><Object><Key>h</Key><VersionId>\(hVersion)</VersionId></Object><Object><Key>free</Key><VersionId>\(freeVersion)</VersionId></Object></Delete>")
            let result = try await client.expect(200, "POST", "/locked", query: [("delete", nil)],
                                                 headers: [("Content-MD5", contentMD5(delete))], body: delete)
            XCTAssertEqual(try result.xml().texts("Error", "Key"), ["h"])
            XCTAssertEqual(try result.xml().texts("Error", "Code"), ["AccessDenied"])
            XCTAssertEqual(try result.xml().texts("Deleted", "Key"), ["free"])
            try await client.expect(200, "PUT", "/locked/h", query: [("legal-hold", nil), ("versionId", hVersion)],
                                    body: bytes("<LegalHold><Status>OFF</Status></LegalHold>"))
            try await client.expect(204, "DELETE", "/locked/h", query: [("versionId", hVersion)])
        }
    }

    func testLockHeadersAreCheckedAsS3ChecksThem() async throws {
        try await withLockBucket { client in
            let body: [UInt8] = [1]
            func code(_ headers: [(name: String, value: String)]) async throws -> String? {
                Self.code(try await client.call("PUT", "/locked/k", headers: Self.lockHeaders(body, headers), body: body))
            }
            await XCTAssertEqualAsync(try await code([("x-amz-object-lock-mode", "GOVERNANCE")]), "InvalidArgument")
            await XCTAssertEqualAsync(try await code([("x-amz-object-lock-retain-until-date", Self.date(60_000))]), "InvalidArgument")
            await XCTAssertEqualAsync(try await code([("x-amz-object-lock-mode", "FOREVER"),
                                                      ("x-amz-object-lock-retain-until-date", Self.date(60_000))]), "InvalidArgument")
            await XCTAssertEqualAsync(try await code([("x-amz-object-lock-mode", "GOVERNANCE"),
                                                      ("x-amz-object-lock-retain-until-date", Self.date(-60_000))]), "InvalidArgument")
            await XCTAssertEqualAsync(try await code([("x-amz-object-lock-legal-hold", "MAYBE")]), "InvalidArgument")
            let unchecked = try await client.call("PUT", "/locked/k", headers: [("x-amz-object-lock-legal-hold", "ON")], body: body)
            XCTAssertEqual(Self.code(unchecked), "InvalidRequest", "a lock needs Content-MD5 or a checksum")
            try await client.expect(404, "GET", "/locked/k", message: "nothing was stored")
        }
    }
}

func XCTAssertEqualAsync<T: Equatable>(_ a: @autoclosure () async throws -> T, _ b: T, file: StaticString = #filePath,
                                       line: UInt = #line) async {
    do {
        let value = try await a()
        XCTAssertEqual(value, b, file: file, line: line)
    } catch {
        XCTFail("threw \(error)", file: file, line: line)
    }
}
