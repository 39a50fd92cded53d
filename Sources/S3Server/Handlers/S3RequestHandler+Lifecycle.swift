import NIOCore
import ObjectStore

/// Put/Get/DeleteBucketLifecycleConfiguration. The document is validated, stored
/// durably through the log, and enforced by the ``UploadSweeper``.
extension S3RequestHandler {
    static let lifecycleConfigName = "lifecycle"

    func putBucketLifecycle(_ context: Context) async throws -> S3Response {
        let document = try await readDocument(context, limit: 1 << 20)
        _ = try LifecycleConfiguration.parse(document)
        try await store.putBucketConfig(bucket: context.bucket, name: Self.lifecycleConfigName, document: document)
        return S3Response()
    }

    func getBucketLifecycle(_ context: Context) async throws -> S3Response {
        guard let document = try await store.bucketConfig(bucket: context.bucket, name: Self.lifecycleConfigName) else {
            throw S3Error.noSuchLifecycleConfiguration(bucket: context.bucket)
        }
        var response = S3Response.xml("")
        response.body = .bytes(ByteBuffer(bytes: document))
        return response
    }

    func deleteBucketLifecycle(_ context: Context) async throws -> S3Response {
        try await store.putBucketConfig(bucket: context.bucket, name: Self.lifecycleConfigName, document: [])
        return S3Response(status: .noContent)
    }
}
