import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import ReportUploader
import StrataTesting
import Testing

@Test func uploadedReportCanBeReadBack() async throws {
    try await StrataTestServer.with(buckets: ["reports"]) { server in
        let report = Data("day,total\n2026-12-07,42\n".utf8)
        try await ReportUploader().upload(report, to: server.presignedURL("PUT", bucket: "reports", key: "2026/12/07.csv"))

        let (stored, _) = try await URLSession.shared.data(from: server.presignedURL("GET", bucket: "reports", key: "2026/12/07.csv"))
        #expect(stored == report)
    }
}

@Test func missingBucketIsReportedWithS3sErrorCode() async throws {
    try await StrataTestServer.with { server in
        await #expect(throws: ReportUploader.UploadError(status: 404, code: "NoSuchBucket")) {
            try await ReportUploader().upload(Data("x".utf8), to: server.presignedURL("PUT", bucket: "nowhere", key: "r.csv"))
        }
    }
}
