import NIOCore
import NIOHTTP1
import ObjectStore
import Synchronization

/// Put/Get/DeleteBucketLifecycleConfiguration. The document is validated, stored
/// durably through the log, and enforced by the ``LifecycleWorker``.
extension S3RequestHandler {
    static let lifecycleConfigName = "lifecycle"

    func putBucketLifecycle(_ context: Context) async throws -> S3Response {
        let document = try await readDocument(context, limit: 1 << 20)
        _ = try LifecycleConfiguration.parse(document)
        try await store.putBucketConfig(bucket: context.bucket, name: Self.lifecycleConfigName, document: document)
        lifecycleRules.forget(context.bucket)
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
        lifecycleRules.forget(context.bucket)
        return S3Response(status: .noContent)
    }
}

extension S3RequestHandler {
    /// The bucket's lifecycle configuration, from the cache or the store.
    func lifecycleConfiguration(_ bucket: String) async throws -> LifecycleConfiguration? {
        if let cached = lifecycleRules.lookup(bucket) { return cached.configuration }
        let generation = lifecycleRules.generation
        let document = try await store.bucketConfig(bucket: bucket, name: Self.lifecycleConfigName)
        let parsed = document.flatMap { try? LifecycleConfiguration.parse($0) }
        lifecycleRules.remember(bucket, parsed, ifGeneration: generation)
        return parsed
    }

    /// `x-amz-expiration: expiry-date="…", rule-id="…"` on PUT, GET and HEAD of an object
    /// that an Expiration rule of its bucket will expire, as S3 sends it.
    func addExpiration(_ info: ObjectInfo, to headers: inout HTTPHeaders) async {
        guard let configuration = try? await lifecycleConfiguration(info.bucket),
              let due = configuration.expiry(of: info, clock: LifecycleClock(dayMilliseconds: self.configuration.lifecycleDaySeconds * 1000))
        else { return }
        var value = "expiry-date=\"\(TimeFormat.httpDate(milliseconds: due.time))\""
        if let rule = due.rule { value += ", rule-id=\"\(rule)\"" }
        headers.add(name: "x-amz-expiration", value: value)
    }
}

/// Parsed lifecycle configurations by bucket. Every change through this server forgets
/// the bucket's entry (Put/DeleteBucketLifecycle, CreateBucket, DeleteBucket) and bumps
/// the generation, so a load that raced a change is not remembered.
final class LifecycleRulesCache: Sendable {
    struct Entry: Sendable {
        var configuration: LifecycleConfiguration?
    }

    private struct State {
        var generation: UInt64 = 0
        var entries: [String: Entry] = [:]
    }

    private let state = Mutex(State())

    var generation: UInt64 { state.withLock { $0.generation } }

    func lookup(_ bucket: String) -> Entry? {
        state.withLock { $0.entries[bucket] }
    }

    func remember(_ bucket: String, _ configuration: LifecycleConfiguration?, ifGeneration generation: UInt64) {
        state.withLock { s in
            guard s.generation == generation else { return }
            if s.entries.count >= 10_000 { s.entries.removeAll() }
            s.entries[bucket] = Entry(configuration: configuration)
        }
    }

    func forget(_ bucket: String) {
        state.withLock { s in
            s.generation += 1
            s.entries[bucket] = nil
        }
    }
}
