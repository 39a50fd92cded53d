import Foundation
import ObjectStore
import XCTest
@testable import S3Server

/// `/metrics` in Prometheus text format after some requests: requests by operation and
/// status, latencies, bytes in and out, open connections, the log's space, group commits
/// and compactions.
final class S3MetricsTests: XCTestCase {
    private func lines(_ response: HTTPResponse) -> [String] {
        response.bodyString.split(separator: "\n").map(String.init)
    }

    /// The value of the sample line starting with `prefix` (name and labels).
    private func value(_ lines: [String], _ prefix: String) -> Double? {
        lines.first { $0.hasPrefix(prefix + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    func testMetricsAfterSomeRequests() async throws {
        let options = ObjectStore.Options(segments: .init(maxSegmentSize: 64 << 10), dataRecordSize: 8 << 10, ioThreads: 2)
        try await S3TestServer.with(options: options) { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            for round in 0..<3 {
                for k in 0..<4 { try await client.put("bkt", "k\(k)", [UInt8](repeating: UInt8(round), count: 30_000)) }
            }
            try await client.expect(200, "GET", "/bkt/k1")
            try await client.expect(404, "GET", "/bkt/missing")
            try await client.expect(200, "POST", "/_strata/compact", query: [("threshold", "0.1")])

            let unsigned = SignedRequest(method: "GET", path: "/metrics", query: "", headers: [("Host", server.host)], body: [], signature: "")
            let response = try await S3TestClient(server).send(unsigned)
            XCTAssertEqual(response.status, 200)
            XCTAssertTrue(response.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") ?? false)
            let text = lines(response)
            XCTAssertEqual(value(text, #"strata_requests_total{operation="PutObject",status="200"}"#), 12, response.bodyString)
            XCTAssertEqual(value(text, #"strata_requests_total{operation="GetObject",status="200"}"#), 1)
            XCTAssertEqual(value(text, #"strata_requests_total{operation="GetObject",status="404"}"#), 1)
            XCTAssertEqual(value(text, #"strata_requests_total{operation="CreateBucket",status="200"}"#), 1)
            XCTAssertEqual(value(text, #"strata_request_duration_seconds_count{operation="PutObject"}"#), 12)
            XCTAssertEqual(value(text, "strata_received_bytes_total"), 12 * 30_000)
            XCTAssertGreaterThanOrEqual(value(text, "strata_sent_bytes_total") ?? 0, 30_000)
            XCTAssertGreaterThanOrEqual(value(text, "strata_open_connections") ?? 0, 1)
            XCTAssertEqual(value(text, #"strata_build_info{version="\#(StrataVersion.current)"}"#), 1, "the version, as exporters report it")
            // The process_* metrics of Prometheus's client libraries, with their types.
            XCTAssertTrue(text.contains("# TYPE process_cpu_seconds_total counter"))
            XCTAssertGreaterThan(value(text, "process_cpu_seconds_total") ?? 0, 0)
            XCTAssertGreaterThan(value(text, "process_resident_memory_bytes") ?? 0, 1_048_576)
            XCTAssertGreaterThan(value(text, "process_virtual_memory_bytes") ?? 0, value(text, "process_resident_memory_bytes") ?? .infinity)
            XCTAssertGreaterThan(value(text, "process_open_fds") ?? 0, 2)
            XCTAssertGreaterThanOrEqual(value(text, "process_max_fds") ?? 0, value(text, "process_open_fds") ?? .infinity)
            let started = value(text, "process_start_time_seconds") ?? 0
            let now = Date().timeIntervalSince1970
            XCTAssertTrue((now - 86_400 * 7)...(now + 5) ~= started, "process_start_time_seconds \(started) vs now \(now)")
            XCTAssertGreaterThan(value(text, "strata_segments_count") ?? 0, 1)
            XCTAssertGreaterThan(value(text, "strata_live_bytes") ?? 0, 4 * 30_000)
            XCTAssertEqual(value(text, "strata_compaction_runs_total"), 1)
            XCTAssertGreaterThan(value(text, "strata_compaction_reclaimed_bytes_total") ?? 0, 0)
            XCTAssertGreaterThanOrEqual(value(text, "strata_group_commit_batch_commits_count") ?? 0, 1)
            XCTAssertGreaterThanOrEqual(value(text, "strata_group_commit_sync_seconds_count") ?? 0, 1)

            // A signed GET /metrics is S3: ListObjects of a bucket named "metrics".
            let signed = try await client.call("GET", "/metrics")
            XCTAssertEqual(signed.status, 404)
            XCTAssertEqual(signed.errorCode, "NoSuchBucket")
            let admin = SignedRequest(method: "GET", path: "/_strata/metrics", query: "", headers: [("Host", server.host)], body: [], signature: "")
            let always = try await S3TestClient(server).send(admin)
            XCTAssertEqual(always.status, 200)
        }
    }
}
