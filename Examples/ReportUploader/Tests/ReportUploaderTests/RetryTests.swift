import Foundation
import ReportUploader
import StrataTesting
import Testing

@Test func uploadIsRetriedWhenS3Throttles() async throws {
    try await StrataTestServer.with(buckets: ["reports"]) { server in
        // The next two PUTs answer 503 SlowDown; the third lands.
        try server.addFaults(#"{"operation": "PutObject", "error": {"code": "SlowDown"}, "count": 2}"#)
        try await ReportUploader().upload(Data("a,b\n".utf8), to: server.presignedURL("PUT", bucket: "reports", key: "r.csv"))
        #expect(server.faultsJSON().contains(#""hits":2"#))
    }
}

@Test func persistentThrottlingReachesTheCaller() async throws {
    try await StrataTestServer.with(buckets: ["reports"]) { server in
        try server.addFaults(#"{"operation": "PutObject", "error": {"code": "SlowDown"}}"#)
        await #expect(throws: ReportUploader.UploadError(status: 503, code: "SlowDown")) {
            try await ReportUploader(attempts: 2).upload(Data("x".utf8), to: server.presignedURL("PUT", bucket: "reports", key: "r.csv"))
        }
    }
}
