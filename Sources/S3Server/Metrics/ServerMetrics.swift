import NIOConcurrencyHelpers
import NIOHTTP1
import ObjectStore
import Prometheus

/// The server's Prometheus metrics, served at `/metrics` (unsigned GET; a signed one is a
/// ListObjects of a bucket named "metrics") and `/_strata/metrics`. One registry per
/// server, so tests can run several.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let received: Counter
    private let sent: Counter
    private let connections: Gauge
    private let segments: Gauge
    private let segmentBytes: Gauge
    private let liveBytes: Gauge
    private let deadBytes: Gauge
    private let damagedSpans: Gauge
    private let damagedBytes: Gauge
    private let compactions: Counter
    private let reclaimed: Counter
    private let batchSize: ValueHistogram
    private let syncTime: DurationHistogram

    static let latencyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5),
        .seconds(5), .seconds(10), .seconds(30),
    ]

    init() {
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "strata", metricName: metric, unitName: unit, helpText: help)
        }
        received = registry.makeCounter(descriptor: name("received", "bytes_total", "Request body bytes received"))
        sent = registry.makeCounter(descriptor: name("sent", "bytes_total", "Response body bytes sent"))
        connections = registry.makeGauge(descriptor: name("open", "connections", "Client connections open now"))
        segments = registry.makeGauge(descriptor: name("segments", "count", "Segment files in the log"))
        segmentBytes = registry.makeGauge(descriptor: name("segment", "bytes", "Bytes of all segment files"))
        liveBytes = registry.makeGauge(descriptor: name("live", "bytes", "Bytes the index counts live"))
        deadBytes = registry.makeGauge(descriptor: name("dead", "bytes", "Bytes of segments not live (what compaction can reclaim)"))
        damagedSpans = registry.makeGauge(descriptor: name("damaged", "records", "Damaged spans of the log that recovery skipped (strata verify lists them)"))
        damagedBytes = registry.makeGauge(descriptor: name("damaged", "bytes", "Bytes of the damaged spans recovery skipped"))
        compactions = registry.makeCounter(descriptor: name("compaction_runs", "total", "Compaction runs that found work"))
        reclaimed = registry.makeCounter(descriptor: name("compaction_reclaimed", "bytes_total", "Bytes compaction gave back"))
        batchSize = registry.makeValueHistogram(descriptor: name("group_commit_batch", "commits", "Commits acknowledged per group sync"),
                                                buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256])
        // The version, as exporters conventionally report it: a gauge of 1 with labels.
        registry.makeGauge(descriptor: name("build", "info", "Strata's version (always 1)"),
                           labels: [("version", StrataVersion.current)]).set(Double(1))
        syncTime = registry.makeDurationHistogram(descriptor: name("group_commit_sync", "seconds", "Time of one group sync and its index apply"),
                                                  buckets: Self.latencyBuckets)
    }

    /// The per-operation series, made on first use and then found in a table of our own:
    /// the registry's own lookup (descriptor validation, label hashing) cost more per
    /// request than the rest of the metrics together.
    private struct RequestSeries {
        var counters: [String: [UInt: Counter]] = [:]
        var durations: [String: DurationHistogram] = [:]
    }
    private let series = NIOLockedValueBox(RequestSeries())

    func request(operation: String, status: UInt, duration: Duration, bytesIn: Int, bytesOut: Int) {
        let (counter, histogram) = series.withLockedValue { table -> (Counter, DurationHistogram) in
            if let counter = table.counters[operation]?[status], let histogram = table.durations[operation] {
                return (counter, histogram)
            }
            let counter = table.counters[operation]?[status] ?? registry.makeCounter(
                descriptor: MetricNameDescriptor(namespace: "strata", metricName: "requests", unitName: "total",
                                                 helpText: "Requests by S3 operation and HTTP status"),
                labels: [("operation", operation), ("status", "\(status)")])
            table.counters[operation, default: [:]][status] = counter
            let histogram = table.durations[operation] ?? registry.makeDurationHistogram(
                descriptor: MetricNameDescriptor(namespace: "strata", metricName: "request_duration",
                                                 unitName: "seconds", helpText: "Time to the response head by S3 operation"),
                labels: [("operation", operation)], buckets: Self.latencyBuckets)
            table.durations[operation] = histogram
            return (counter, histogram)
        }
        counter.increment()
        histogram.record(duration)
        if bytesIn > 0 { received.increment(by: Int64(bytesIn)) }
        if bytesOut > 0 { sent.increment(by: Int64(bytesOut)) }
    }

    func connectionOpened() { connections.increment() }
    func connectionClosed() { connections.decrement() }

    /// Hooks the store's group commits and compactions.
    func watch(_ store: ObjectStore) {
        store.observe(groupCommits: { [batchSize, syncTime] commits, took in
            batchSize.record(Double(commits))
            syncTime.record(took)
        }, compactions: { [compactions, reclaimed] report in
            guard !report.victims.isEmpty else { return }
            compactions.increment()
            if report.bytesReclaimed > 0 { reclaimed.increment(by: report.bytesReclaimed) }
        })
    }

    /// The exposition text, with the log's space read now.
    func render(_ store: ObjectStore?) async -> [UInt8] {
        if let store, let space = try? await store.logSpace() {
            segments.set(Double(space.segments))
            segmentBytes.set(Double(space.bytes))
            liveBytes.set(Double(min(space.liveBytes, space.bytes)))
            deadBytes.set(Double(space.bytes - min(space.liveBytes, space.bytes)))
        }
        if let store, let damage = try? await store.damageTotals() {
            damagedSpans.set(Double(damage.spans))
            damagedBytes.set(Double(damage.bytes))
        }
        return registry.emitToBuffer() + Array(ProcessMetrics.exposition().utf8)
    }
}
