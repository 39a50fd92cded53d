import Foundation
import XCTest
import ObjectStore
@testable import S3Server

/// Bucket lifecycle configuration (the AbortIncompleteMultipartUpload part) and the
/// sweeper that aborts abandoned uploads, with its clock moved forward by the test.
final class S3LifecycleTests: XCTestCase {
    static func lifecycle(_ rules: String) -> [UInt8] {
        bytes(#"<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"# + rules + "</LifecycleConfiguration>")
    }

    static func abortRule(prefix: String, days: Int, status: String = "Enabled") -> String {
        "<Rule><ID>abort-\(prefix)</ID><Filter><Prefix>\(prefix)</Prefix></Filter><Status>\(status)</Status>"
            + "<AbortIncompleteMultipartUpload><DaysAfterInitiation>\(days)</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>"
    }

    /// Put/Get/DeleteBucketLifecycleConfiguration round trip; GET without one is 404
    /// NoSuchLifecycleConfiguration, as S3 answers.
    func testLifecycleConfigurationRoundTrip() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("life")
            let missing = try await client.expect(404, "GET", "/life", query: [("lifecycle", nil)])
            XCTAssertEqual(missing.errorCode, "NoSuchLifecycleConfiguration")
            let document = Self.lifecycle(Self.abortRule(prefix: "tmp/", days: 2))
            try await client.expect(200, "PUT", "/life", query: [("lifecycle", nil)], body: document)
            let got = try await client.expect(200, "GET", "/life", query: [("lifecycle", nil)])
            XCTAssertEqual(try got.xml().texts("Rule", "AbortIncompleteMultipartUpload", "DaysAfterInitiation"), ["2"])
            try await client.expect(204, "DELETE", "/life", query: [("lifecycle", nil)])
            try await client.expect(404, "GET", "/life", query: [("lifecycle", nil)])
        }
    }

    /// Invalid documents change nothing: MalformedXML, InvalidArgument for a bad day
    /// count, and NotImplemented for actions Strata does not enforce yet.
    func testInvalidLifecycleConfigurationsAreRefused() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("life")
            let cases: [(String, [UInt8], String)] = [
                ("malformed", bytes("<LifecycleConfiguration><Rule>"), "MalformedXML"),
                ("no rules", Self.lifecycle(""), "MalformedXML"),
                ("bad status", Self.lifecycle(Self.abortRule(prefix: "", days: 1, status: "On")), "MalformedXML"),
                ("zero days", Self.lifecycle(Self.abortRule(prefix: "", days: 0)), "InvalidArgument"),
                ("expiration", Self.lifecycle("<Rule><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>"), "NotImplemented"),
            ]
            for (name, document, code) in cases {
                let response = try await client.call("PUT", "/life", query: [("lifecycle", nil)], body: document)
                XCTAssertEqual(response.errorCode, code, name)
            }
            try await client.expect(404, "GET", "/life", query: [("lifecycle", nil)])
        }
    }

    /// The sweeper aborts uploads older than the default age, and a bucket rule sets a
    /// shorter age for its prefix; uploads it aborts are gone (NoSuchUpload).
    func testSweeperAbortsAbandonedUploadsByDefaultAgeAndLifecycleRule() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("sweep")
            try await client.expect(200, "PUT", "/sweep", query: [("lifecycle", nil)],
                                    body: Self.lifecycle(Self.abortRule(prefix: "tmp/", days: 1)))
            let store = server.store
            let short = try await store.createUpload(bucket: "sweep", key: "tmp/a", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
            let long = try await store.createUpload(bucket: "sweep", key: "keep/b", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
            let sweeper = UploadSweeper(store: store, defaultMaxAge: 7 * 86_400_000, logger: .init(label: "test"))
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            await assertEqual(try await sweeper.sweep(now: now).count, 0)
            // Two days later: the rule's one day has passed for tmp/, the default week has not.
            await assertEqual(try await sweeper.sweep(now: now + 2 * 86_400_000).map(\.uploadId), [short.uploadId])
            // Eight days later the default catches the other one.
            await assertEqual(try await sweeper.sweep(now: now + 8 * 86_400_000).map(\.uploadId), [long.uploadId])
            for upload in [short, long] {
                do {
                    _ = try await store.upload(bucket: "sweep", key: upload.key, uploadId: upload.uploadId)
                    XCTFail("upload \(upload.key) should be aborted")
                } catch let error as StoreError {
                    XCTAssertEqual(error.code, .noSuchUpload)
                }
            }
            await assertEqual(try await store.allUploads().count, 0)
        }
    }
}

/// XCTAssertEqual cannot await.
func assertEqual<T: Equatable>(_ a: @autoclosure () async throws -> T, _ b: T,
                               file: StaticString = #filePath, line: UInt = #line) async {
    do {
        let value = try await a()
        XCTAssertEqual(value, b, file: file, line: line)
    } catch {
        XCTFail("\(error)", file: file, line: line)
    }
}
