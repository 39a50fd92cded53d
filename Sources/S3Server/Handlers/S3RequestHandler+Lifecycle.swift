import NIOCore
import NIOHTTP1
import ObjectStore

/// Put/Get/DeleteBucketLifecycleConfiguration. The document is validated, stored
/// durably through the log, and enforced by the ``LifecycleWorker``.
extension S3RequestHandler {
    func putBucketLifecycle(_ context: Context) async throws -> S3Response {
        let document = try LifecycleConfiguration.storedDocument(try await readDocument(context, limit: 1 << 20))
        try await storeBucketConfig(context, name: .lifecycle, document: document)
        return S3Response()
    }

    func getBucketLifecycle(_ context: Context) async throws -> S3Response {
        try await storedConfigResponse(context, name: .lifecycle,
                                       missing: .noSuchLifecycleConfiguration(bucket: context.bucket))
    }

    func deleteBucketLifecycle(_ context: Context) async throws -> S3Response {
        try await storeBucketConfig(context, name: .lifecycle, document: [])
        return S3Response(status: .noContent)
    }
}

extension S3RequestHandler {
    /// `x-amz-expiration: expiry-date="…", rule-id="…"` on PUT, GET and HEAD of an object
    /// that an Expiration rule of its bucket will expire, as S3 sends it.
    func addExpiration(_ info: ObjectInfo, to headers: inout HTTPHeaders) async {
        guard let configuration = try? await bucketSettings(info.bucket)?.lifecycle,
              let due = configuration.expiry(of: info, clock: LifecycleClock(dayMilliseconds: self.configuration.lifecycleDaySeconds * 1000))
        else { return }
        var value = "expiry-date=\"\(TimeFormat.httpDate(milliseconds: due.time))\""
        if let rule = due.rule { value += ", rule-id=\"\(rule)\"" }
        headers.add(name: "x-amz-expiration", value: value)
    }
}
