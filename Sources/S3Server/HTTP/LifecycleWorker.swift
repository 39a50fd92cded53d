import Foundation
import Logging
import ObjectStore

/// The lifecycle clock: "now", and how long a lifecycle day lasts. S3 counts
/// `Expiration Days` and `DaysAfterInitiation` from an object's last-modified (an
/// upload's initiation) time and rounds the result up to the next midnight UTC; with a
/// day of `dayMilliseconds` the "midnights" are the multiples of it since 1970, which for
/// the real day (86 400 000 ms) are exactly midnight UTC. `strata serve
/// --lifecycle-day-seconds N` shortens the day so lifecycle rules can be watched
/// acting within a test.
struct LifecycleClock: Sendable {
    static let realDay: Int64 = 86_400_000

    var dayMilliseconds: Int64 = realDay

    /// When something `days` lifecycle days after `start` (ms since 1970) is due: the
    /// next lifecycle midnight at or after `start + days`.
    func due(from start: Int64, days: Int) -> Int64 {
        let raw = start + Int64(days) * dayMilliseconds
        let (q, r) = raw.quotientAndRemainder(dividingBy: dayMilliseconds)
        return (r == 0 ? q : q + 1) * dayMilliseconds
    }
}

/// Applies bucket lifecycle configurations in the background: aborts abandoned
/// multipart uploads (a rule's `AbortIncompleteMultipartUpload`, else the server-wide
/// default age) and expires current objects (`Expiration` `Days` / `Date`) in the rules'
/// scope (prefix, tags, size). Expired objects are deleted like a DeleteObject: gone in
/// an unversioned bucket, behind a delete marker in a versioned one (as S3 does); their
/// bytes become dead space for compaction. Each expiry is conditional on the object
/// still being the version judged
/// (``ObjectStore/deleteObject(bucket:key:versionID:ifCurrentSequence:)``), so an object
/// overwritten meanwhile is judged again on the next pass. In versioned buckets it also
/// removes noncurrent versions (`NoncurrentVersionExpiration`) and delete markers no
/// version stands behind any more (`ExpiredObjectDeleteMarker`).
struct LifecycleWorker: Sendable {
    let store: ObjectStore
    /// Age in milliseconds after which an upload not covered by a rule is aborted.
    let defaultUploadMaxAge: Int64
    var clock = LifecycleClock()
    let logger: Logger

    struct Report: Sendable {
        var abortedUploads: [UploadInfo] = []
        /// `bucket/key` of each expired current version.
        var expiredObjects: [String] = []
        var expiredHistory = 0
    }

    init(store: ObjectStore, defaultUploadMaxAge: Int64, clock: LifecycleClock = .init(), logger: Logger) {
        self.store = store
        self.defaultUploadMaxAge = defaultUploadMaxAge
        self.clock = clock
        self.logger = logger
    }

    /// One pass at time `now` (ms since 1970).
    @discardableResult
    func pass(now: Int64) async throws -> Report {
        var report = Report()
        var configurations: [String: LifecycleConfiguration?] = [:]
        func configuration(_ bucket: String) async -> LifecycleConfiguration? {
            if let known = configurations[bucket] { return known }
            let document = try? await store.bucketConfig(bucket: bucket, name: .lifecycle)
            let parsed = document.flatMap { $0 }.flatMap { try? LifecycleConfiguration.parse($0) }
            configurations[bucket] = .some(parsed)
            return parsed
        }
        report.abortedUploads = try await abortUploads(now: now, configuration: configuration)
        for bucket in try await store.listBuckets() {
            guard let config = await configuration(bucket.name) else { continue }
            let rules = config.rules.filter(\.enabled)
            guard !rules.isEmpty else { continue }
            do {
                report.expiredObjects += try await expireCurrent(bucket: bucket.name, rules: rules, now: now)
                report.expiredHistory += try await expireHistory(bucket: bucket.name, rules: rules, now: now)
            } catch let error as StoreError where error.code == .noSuchBucket {
                continue  // deleted meanwhile
            }
        }
        return report
    }

    private func expireCurrent(bucket: String, rules: [LifecycleConfiguration.Rule], now: Int64) async throws -> [String] {
        let expiring = LifecycleConfiguration(rules: rules.filter { $0.expirationDays != nil || $0.expirationDate != nil })
        guard !expiring.rules.isEmpty else { return [] }
        var expired: [String] = []
        var after: String?
        repeat {
            let page = try await store.listObjects(bucket: bucket, ListRequest(after: after, maxKeys: 1000))
            for info in page.objects {
                guard let due = expiring.expiry(of: info, clock: clock), due.time <= now else { continue }
                let result = try await store.deleteObject(bucket: bucket, key: info.key, ifCurrentSequence: info.sequence)
                if result.wroteRecord {
                    expired.append("\(bucket)/\(info.key)")
                    logger.info("lifecycle: expired \(bucket)/\(info.key) (rule \(due.rule ?? "-"))")
                }
            }
            after = page.isTruncated ? page.next : nil
        } while after != nil
        return expired
    }

    /// NoncurrentVersionExpiration and ExpiredObjectDeleteMarker over every key of a
    /// versioned bucket. A version stops being current when the next one is written, so
    /// its noncurrent days count from that version's last-modified time (S3's rule);
    /// the `NewerNoncurrentVersions` newest noncurrent versions are kept whatever their
    /// age. Removals are permanent deletes by version id. Returns how many it removed.
    private func expireHistory(bucket: String, rules: [LifecycleConfiguration.Rule], now: Int64) async throws -> Int {
        let history = rules.filter { $0.noncurrentDays != nil || $0.expiredObjectDeleteMarker || $0.cleansDeleteMarkers }
        guard !history.isEmpty, try await store.versioning(bucket: bucket) != .unversioned else { return 0 }
        var removed = 0
        var keyMarker: String?
        var versionMarker: String?
        var pending: [ObjectInfo] = []
        func settle(_ versions: [ObjectInfo]) async throws {
            for doomed in Self.historyToRemove(versions, rules: history, now: now, clock: clock) {
                let result: DeleteResult
                do {
                    result = try await store.deleteObject(bucket: bucket, key: doomed.key, versionID: doomed.versionID)
                } catch let error as StoreError where error.code == .objectLocked {
                    // Object Lock outranks lifecycle, as on S3: the version stays.
                    logger.debug("lifecycle: kept \(doomed.versionID) of \(bucket)/\(doomed.key): Object Lock protects it")
                    continue
                }
                guard result.wroteRecord else { continue }
                removed += 1
                logger.info("lifecycle: removed \(doomed.isDeleteMarker ? "delete marker" : "noncurrent version") \(doomed.versionID) of \(bucket)/\(doomed.key)")
            }
        }
        repeat {
            let page = try await store.listVersions(bucket: bucket, keyMarker: keyMarker, versionIDMarker: versionMarker,
                                                    maxKeys: 1000)
            for entry in page.entries {
                if let first = pending.first, first.key != entry.info.key {
                    try await settle(pending)
                    pending = []
                }
                pending.append(entry.info)
            }
            keyMarker = page.isTruncated ? page.nextKeyMarker : nil
            versionMarker = page.nextVersionIDMarker
        } while keyMarker != nil
        if !pending.isEmpty { try await settle(pending) }
        return removed
    }

    /// Which of one key's versions (newest first) the rules remove at `now`.
    static func historyToRemove(_ versions: [ObjectInfo], rules: [LifecycleConfiguration.Rule], now: Int64,
                                clock: LifecycleClock) -> [ObjectInfo] {
        guard let current = versions.first else { return [] }
        var doomed: [ObjectInfo] = []
        // ExpiredObjectDeleteMarker: a current delete marker with nothing behind it (also
        // under an Expiration Days rule: S3 "automatically performs ExpiredObjectDeleteMarker
        // cleanup" then).
        if versions.count == 1, current.isDeleteMarker,
           rules.contains(where: { ($0.expiredObjectDeleteMarker || $0.cleansDeleteMarkers) && current.key.hasPrefix($0.filter.prefix) }) {
            return [current]
        }
        for rule in rules {
            guard let days = rule.noncurrentDays else { continue }
            var kept = 0
            for index in versions.indices.dropFirst() {
                let version = versions[index]
                guard version.isDeleteMarker || rule.filter.matches(key: version.key, size: version.size, tags: version.tags)
                else { continue }
                guard version.isDeleteMarker || version.key.hasPrefix(rule.filter.prefix) else { continue }
                if kept < (rule.newerNoncurrentVersions ?? 0) {
                    kept += 1
                    continue
                }
                let noncurrentSince = versions[index - 1].lastModified
                if now >= clock.due(from: noncurrentSince, days: days),
                   !doomed.contains(where: { $0.orderSequence == version.orderSequence }) {
                    doomed.append(version)
                }
            }
        }
        return doomed
    }

    private func abortUploads(now: Int64, configuration: (String) async -> LifecycleConfiguration?) async throws -> [UploadInfo] {
        var aborted: [UploadInfo] = []
        for upload in try await store.allUploads() {
            let rules = await configuration(upload.bucket)?.rules.filter { $0.enabled && upload.key.hasPrefix($0.filter.prefix) } ?? []
            let dues = rules.compactMap { rule in rule.abortIncompleteUploadDays.map { clock.due(from: upload.initiated, days: $0) } }
            let due = dues.min() ?? upload.initiated + defaultUploadMaxAge
            guard now >= due else { continue }
            do {
                try await store.abortUpload(bucket: upload.bucket, key: upload.key, uploadId: upload.uploadId)
                aborted.append(upload)
                logger.info("lifecycle: aborted abandoned upload \(upload.uploadId) of \(upload.bucket)/\(upload.key)")
            } catch let error as StoreError where error.code == .noSuchUpload || error.code == .noSuchBucket {
                continue  // completed or aborted meanwhile
            }
        }
        return aborted
    }

    /// A pass every `interval` until the task is cancelled.
    func run(interval: Duration) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
                try await pass(now: Int64(Date().timeIntervalSince1970 * 1000))
            } catch is CancellationError {
                return
            } catch {
                logger.error("lifecycle worker: \(error)")
            }
        }
    }
}
