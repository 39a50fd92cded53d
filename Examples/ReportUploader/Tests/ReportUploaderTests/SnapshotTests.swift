import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import ReportUploader
import StrataTesting
import Testing

@Test func everyCaseStartsFromTheSeededReports() async throws {
    try await StrataTestServer.with(buckets: ["reports"]) { server in
        let seeded = Data("day,total\n2026-12-07,42\n".utf8)
        let url = server.presignedURL("PUT", bucket: "reports", key: "2026/12/07.csv")
        try await ReportUploader().upload(seeded, to: url)
        try await server.saveSnapshot("seeded")

        for replacement in ["day,total\n", "not a csv"] {
            try await server.restoreSnapshot("seeded")  // back to the seeded data, in milliseconds
            let (stored, _) = try await URLSession.shared.data(from: server.presignedURL("GET", bucket: "reports", key: "2026/12/07.csv"))
            #expect(stored == seeded)
            try await ReportUploader().upload(Data(replacement.utf8), to: url)
        }
    }
}
