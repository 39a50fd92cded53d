import Foundation
import Logging
import ObjectStore
import XCTest
@testable import S3Server

/// The operator endpoint `POST /_strata/compact` (what `strata compact --server` calls)
/// and the background compactor, against a real server with small segments.
final class S3CompactionTests: XCTestCase {
    private let options = ObjectStore.Options(segments: .init(maxSegmentSize: 64 << 10), dataRecordSize: 8 << 10, ioThreads: 2)

    /// Overwrites each key several times so most sealed segments are dead; returns the
    /// final bodies.
    private func churn(_ client: S3TestClient) async throws -> [String: [UInt8]] {
        try await client.createBucket("bkt")
        var latest: [String: [UInt8]] = [:]
        for round in 0..<6 {
            for k in 0..<8 {
                let body = (0..<(20_000 + k * 1000)).map { UInt8(truncatingIfNeeded: $0 &* (round + 3) &+ k) }
                try await client.put("bkt", "key\(k)", body)
                latest["key\(k)"] = body
            }
        }
        return latest
    }

    private func assertReadable(_ client: S3TestClient, _ latest: [String: [UInt8]]) async throws {
        for (key, body) in latest {
            let response = try await client.expect(200, "GET", S3Path.encode(bucket: "bkt", key: key))
            XCTAssertEqual(response.body, body, key)
        }
    }

    func testCompactEndpointReclaimsSpaceAndObjectsStayReadable() async throws {
        try await S3TestServer.with(options: options) { server in
            let client = S3TestClient(server)
            let latest = try await churn(client)
            let before = try await server.store.segmentUsage()
            XCTAssertGreaterThan(before.count, 3)
            let response = try await client.expect(200, "POST", "/_strata/compact", query: [("threshold", "0.3")])
            XCTAssertEqual(response.header("Content-Type"), "application/json")
            let report = try JSONDecoder().decode(CompactionReport.self, from: Data(response.body))
            XCTAssertEqual(Set(report.victims), Set(before.filter { $0.deadRatio >= 0.3 }.map(\.id)))
            XCTAssertFalse(report.removed.isEmpty)
            XCTAssertGreaterThan(report.bytesReclaimed, 0)
            for id in report.removed {
                XCTAssertFalse(server.store.segmentIDs.contains(id), "segment \(id) is deleted")
            }
            try await assertReadable(client, latest)
        }
    }

    func testCompactEndpointRejectsBadArgumentsWithInvalidArgument() async throws {
        try await S3TestServer.with(options: options) { server in
            let client = S3TestClient(server)
            for query in [("threshold", "1.5"), ("threshold", "x"), ("segment", "a,b"), ("bandwidth", "0")] {
                let response = try await client.expect(400, "POST", "/_strata/compact", query: [(query.0, query.1)])
                XCTAssertEqual(response.errorCode, "InvalidArgument", "\(query)")
            }
            let active = try XCTUnwrap(server.store.activeSegmentID)
            let response = try await client.expect(400, "POST", "/_strata/compact", query: [("segment", "\(active)")])
            XCTAssertEqual(response.errorCode, "InvalidArgument", "the active segment is never compacted")
            let get = try await client.expect(501, "GET", "/_strata/compact")
            XCTAssertEqual(get.errorCode, "NotImplemented")
        }
    }

    func testCompactEndpointNeedsTheRootCredentials() async throws {
        try await S3TestServer.with(options: options) { server in
            let signer = TestSigner(accessKey: S3TestServer.accessKey, secret: "not-the-secret", host: server.host)
            let response = try await S3TestClient(server).send(signer.sign(method: "POST", path: "/_strata/compact", query: [], headers: [], body: []))
            XCTAssertEqual(response.status, 403)
            XCTAssertEqual(response.errorCode, "SignatureDoesNotMatch")
        }
    }

    /// The compactor `strata serve` runs every --compact-interval seconds.
    func testBackgroundCompactorCompactsOnlyPastItsThreshold() async throws {
        try await S3TestServer.with(options: options) { server in
            let client = S3TestClient(server)
            let latest = try await churn(client)
            let compactor = BackgroundCompactor(store: server.store, threshold: 0.5, logger: Logger(label: "test"))
            let first = try await compactor.pass()
            XCTAssertFalse(try XCTUnwrap(first).removed.isEmpty)
            let usage = try await server.store.segmentUsage()
            XCTAssertFalse(usage.contains { $0.deadRatio >= 0.5 }, "\(usage)")
            let second = try await compactor.pass()
            XCTAssertNil(second, "nothing is over the threshold any more")
            try await assertReadable(client, latest)
        }
    }
}
