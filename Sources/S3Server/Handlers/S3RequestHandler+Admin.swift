import Foundation
import NIOCore
import NIOHTTP1
import ObjectStore

/// Operator endpoints under `/_strata/`. "_strata" can never be a bucket (S3 bucket names
/// have no underscores), so these paths shadow nothing of S3. Only the root credentials
/// may call them.
extension S3RequestHandler {
    static let adminPath = "_strata"
    private static let livePath = "/\(adminPath)/health/live"
    private static let readyPath = "/\(adminPath)/health/ready"
    private static let metricsPath = "/\(adminPath)/metrics"

    /// The path of a request target, without the query (checked on every request, so
    /// bytewise).
    static func path(of uri: String) -> Substring {
        uri.utf8.firstIndex(of: UInt8(ascii: "?")).map { uri[..<$0] } ?? Substring(uri)
    }

    /// `GET /_strata/health/live` (200 while the process serves) and
    /// `GET /_strata/health/ready` (200 once the store is open and recovery finished,
    /// 503 before): unauthenticated, for orchestrators and test harnesses. Nil for any
    /// other request.
    ///
    /// `/minio/health/live` and `/minio/health/ready` answer the same when unsigned:
    /// compose files and testcontainers' MinIO wait strategies poll them. A signed request
    /// to those paths is S3's, for a bucket named "minio".
    func healthResponse(_ head: HTTPRequestHead) -> S3Response? {
        guard head.method == .GET || head.method == .HEAD else { return nil }
        let path = Self.path(of: head.uri)
        let ready: Bool
        switch path {
        case Self.livePath: ready = true
        case Self.readyPath: ready = slot.store != nil
        case "/minio/health/live", "/minio/health/ready":
            let query = head.uri.dropFirst(path.utf8.count)
            guard head.headers["authorization"].isEmpty, !query.contains("Signature=") else { return nil }
            ready = path.hasSuffix("live") || slot.store != nil
        default: return nil
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Cache-Control", value: "no-store")
        let body = #"{"status":"\#(ready ? "ok" : "recovering")","version":"\#(StrataVersion.current)"}"#
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        return S3Response(status: ready ? .ok : .serviceUnavailable, headers: headers,
                          body: head.method == .HEAD ? .none : .bytes(ByteBuffer(string: body)))
    }

    /// `GET /_strata/metrics`, and `GET /metrics` when unsigned (a signed one is a
    /// ListObjects of a bucket named "metrics"): Prometheus text format, unauthenticated
    /// like the health checks. Nil for any other request.
    func metricsResponse(_ head: HTTPRequestHead) async -> S3Response? {
        guard head.method == .GET else { return nil }
        let path = Self.path(of: head.uri)
        guard path == Self.metricsPath || path == "/metrics" else { return nil }
        if path == "/metrics" {
            // A signed request is S3's ListObjects of a bucket named "metrics".
            let query = head.uri.dropFirst(path.utf8.count)
            guard head.headers["authorization"].isEmpty, !query.contains("Signature=") else { return nil }
        }
        let body = await metrics.render(slot.store)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
        headers.add(name: "Cache-Control", value: "no-store")
        return S3Response(status: .ok, headers: headers, body: .bytes(ByteBuffer(bytes: body)))
    }

    /// `POST /_strata/compact?threshold=0.5&segment=3,4&bandwidth=BYTES`: runs one
    /// compaction and answers its report as JSON (`CompactionReport`).
    func compact(_ parameters: CompactionParameters, _ context: Context) async throws -> S3Response {
        guard context.principal.isRoot else { throw S3Error.accessDenied() }
        var options = CompactionOptions(threshold: parameters.threshold ?? configuration.compactionThreshold)
        options.segments = parameters.segments
        options.bytesPerSecond = parameters.bytesPerSecond
        let report = try await store.compact(options)
        logger.info("compaction: \(report.removed.count) of \(report.victims.count) segments removed, \(report.bytesReclaimed) bytes reclaimed in \(report.seconds) s")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        return S3Response(status: .ok, headers: headers, body: .bytes(ByteBuffer(bytes: try encoder.encode(report))))
    }

    /// `POST /_strata/reset`: empties the store (every bucket and what is in it); users,
    /// server settings and fault rules stay. Answers `{"reset":true}` once the reset is
    /// durable; requests that arrive meanwhile are answered 503 SlowDown.
    func reset(_ context: Context) async throws -> S3Response {
        guard context.principal.isRoot else { throw S3Error.accessDenied() }
        try await resetStore()
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        return S3Response(status: .ok, headers: headers, body: .bytes(ByteBuffer(string: #"{"reset":true}"#)))
    }

    /// Empties the store, and forgets the bucket settings cached for it; the buckets the
    /// server started with are made again.
    func resetStore() async throws {
        defer { settingsCache.invalidateAll() }
        try await store.reset(recreating: startupBuckets)
        let again = configuration.startupBuckets.isEmpty ? "" : "; made again: " + configuration.startupBuckets.joined(separator: ", ")
        logger.notice("the store was reset: every bucket and object is gone\(again)")
    }

    /// The buckets the server starts with, as a reset or restore makes them again.
    private var startupBuckets: [(name: String, attributes: [String: String])] {
        let root = users.principals.first(where: \.isRoot).flatMap(\.accessKeyId) ?? configuration.credentials.keys.first ?? ""
        let attributes = StartupBuckets.attributes(rootAccessKey: root, region: configuration.region)
        return configuration.startupBuckets.map { ($0, attributes) }
    }

    /// `/_strata/snapshots` (``SnapshotsRequest``): a saved or listed snapshot is answered
    /// as JSON (``SnapshotInfo/jsonObject``), a list as `{"snapshots":[…]}`, a restore as the
    /// snapshot with `"restored": NAME`, a delete with 204. An unknown name is 404
    /// NoSuchSnapshot; a bad one 400 InvalidArgument.
    func snapshots(_ request: SnapshotsRequest, _ context: Context) async throws -> S3Response {
        guard context.principal.isRoot else { throw S3Error.accessDenied() }
        let body: [String: Any]
        switch request {
        case .list:
            body = ["snapshots": try await store.snapshots().map(\.jsonObject)]
        case .save(let name):
            let info = try await store.saveSnapshot(name)
            logger.notice("saved snapshot \(name): \(info.objects) objects in \(info.buckets) buckets")
            body = info.jsonObject
        case .restore(let name):
            body = try await restoreSnapshot(name).jsonObject.merging(["restored": name]) { a, _ in a }
        case .delete(let name):
            try await store.deleteSnapshot(name)
            logger.notice("deleted snapshot \(name)")
            return S3Response(status: .noContent, headers: HTTPHeaders(), body: .none)
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        let json = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        return S3Response(status: .ok, headers: headers, body: .bytes(ByteBuffer(bytes: json)))
    }

    /// Returns the store to the snapshot `name`, and forgets the bucket settings cached
    /// for it; the buckets the server started with are made again if the snapshot has
    /// none of their names.
    func restoreSnapshot(_ name: String) async throws -> SnapshotInfo {
        defer { settingsCache.invalidateAll() }
        let info = try await store.restoreSnapshot(name, recreating: startupBuckets)
        logger.notice("restored snapshot \(name)")
        return info
    }

    /// `/_strata/faults` (``FaultsRequest``): answers the rules as JSON
    /// (``FaultRules/listJSON()``) after the change, with `added`: the ids of the rules a
    /// PUT or POST stored. A malformed rule is 400 InvalidArgument naming it and its field,
    /// and changes nothing.
    func faults(_ request: FaultsRequest, _ context: Context) async throws -> S3Response {
        guard context.principal.isRoot else { throw S3Error.accessDenied() }
        var added: [String]?
        switch request {
        case .list:
            break
        case .replace, .add:
            let document = try await readDocument(context, limit: 1 << 20)
            do {
                let rules = try faultRules.add(try FaultRules.parse(document), replacing: request == .replace)
                added = rules.map(\.id)
            } catch let error as FaultRuleError {
                throw S3Error.invalidArgument(error.description)
            }
            logger.notice("fault rules \(request == .replace ? "replaced by" : "added"): \(added?.joined(separator: ", ") ?? "")")
        case .clear:
            let removed = faultRules.clear()
            logger.notice("fault rules cleared (\(removed))")
        case .remove(let id):
            guard faultRules.remove(id: id) else {
                throw S3Error(code: "NoSuchFaultRule", status: 404, message: "There is no fault rule with the id \"\(id)\".")
            }
            logger.notice("fault rule \(id) removed")
        }
        var body = faultRules.listJSON()
        if let added {
            // {"rules": …} → {"added": […], "rules": …}
            let ids = FaultRules.encode(added)
            body = Array("{\"added\":".utf8) + ids + [UInt8(ascii: ",")] + body.dropFirst()
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Cache-Control", value: "no-store")
        return S3Response(status: .ok, headers: headers, body: .bytes(ByteBuffer(bytes: body)))
    }

    /// What a fired fault rule does before the operation runs: waits, answers its error,
    /// or shapes how the request body is read (its response is shaped in `handle`).
    func inject(_ fault: FiredFault, body: RequestBody) async throws {
        if let milliseconds = fault.action.latencyMilliseconds {
            try await Task.sleep(for: .milliseconds(milliseconds))
        }
        if let error = fault.action.error {
            throw S3Error(code: error.code, status: error.status, message: error.message)
        }
        if let shaping = fault.action.requestShaping { body.shaping = shaping }
    }
}
