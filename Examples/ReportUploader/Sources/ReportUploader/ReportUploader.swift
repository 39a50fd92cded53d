import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The code under test: uploads a report to a presigned S3 URL that a backend handed out,
/// and reports S3's error code when S3 refuses it.
public struct ReportUploader: Sendable {
    public struct UploadError: Error, Equatable {
        public let status: Int
        /// S3's error code from the XML body, e.g. `NoSuchBucket`.
        public let code: String?

        public init(status: Int, code: String?) {
            self.status = status
            self.code = code
        }
    }

    /// How many times an upload is tried when S3 answers 500 or 503 (SlowDown).
    public let attempts: Int

    public init(attempts: Int = 3) {
        self.attempts = attempts
    }

    public func upload(_ report: Data, to presignedURL: URL) async throws {
        var request = URLRequest(url: presignedURL)
        request.httpMethod = "PUT"
        request.setValue("text/csv", forHTTPHeaderField: "Content-Type")
        for attempt in 1...attempts {
            let (body, response) = try await URLSession.shared.upload(for: request, from: report)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            if status == 200 { return }
            guard (status == 500 || status == 503) && attempt < attempts else {
                throw UploadError(status: status, code: Self.errorCode(in: body))
            }
            try await Task.sleep(for: .milliseconds(50 << attempt))
        }
    }

    static func errorCode(in body: Data) -> String? {
        let text = String(decoding: body, as: UTF8.self)
        guard let start = text.range(of: "<Code>"), let end = text.range(of: "</Code>", range: start.upperBound..<text.endIndex)
        else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }
}
