import Foundation
import Logging
import ObjectStore

/// Aborts abandoned multipart uploads: those older than the bucket's lifecycle rule
/// (`AbortIncompleteMultipartUpload`, by key prefix) or, without a rule, older than the
/// server-wide default age. Their parts become dead space for compaction.
struct UploadSweeper: Sendable {
    let store: ObjectStore
    /// Age in milliseconds after which an upload not covered by a rule is aborted.
    let defaultMaxAge: Int64
    let logger: Logger

    /// One pass at time `now` (ms since 1970); returns the uploads it aborted.
    @discardableResult
    func sweep(now: Int64) async throws -> [UploadInfo] {
        var rulesByBucket: [String: LifecycleConfiguration?] = [:]
        var aborted: [UploadInfo] = []
        for upload in try await store.allUploads() {
            if rulesByBucket[upload.bucket] == nil {
                let document = try? await store.bucketConfig(bucket: upload.bucket, name: S3RequestHandler.lifecycleConfigName)
                rulesByBucket[upload.bucket] = .some(document.flatMap { $0 }.flatMap { try? LifecycleConfiguration.parse($0) })
            }
            let rules = rulesByBucket[upload.bucket] ?? nil
            let maxAge = rules?.abortAge(forKey: upload.key) ?? defaultMaxAge
            guard now - upload.initiated > maxAge else { continue }
            do {
                try await store.abortUpload(bucket: upload.bucket, key: upload.key, uploadId: upload.uploadId)
                aborted.append(upload)
                logger.info("aborted abandoned upload \(upload.uploadId) of \(upload.bucket)/\(upload.key)")
            } catch let error as StoreError where error.code == .noSuchUpload {
                continue  // completed or aborted meanwhile
            }
        }
        return aborted
    }

    /// Sweeps every `interval` until the task is cancelled.
    func run(interval: Duration) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
                try await sweep(now: Int64(Date().timeIntervalSince1970 * 1000))
            } catch is CancellationError {
                return
            } catch {
                logger.error("upload sweeper: \(error)")
            }
        }
    }
}
