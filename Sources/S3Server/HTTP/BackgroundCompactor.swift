import Logging
import ObjectStore

/// Compacts in the background: every interval, if a sealed segment's dead ratio reached
/// the threshold, one compaction run takes all such segments (docs/DESIGN.md,
/// "Compaction: copy, compare-and-swap, delete").
struct BackgroundCompactor: Sendable {
    let store: ObjectStore
    let threshold: Double
    let logger: Logger

    /// One look; returns the report if it compacted.
    @discardableResult
    func pass() async throws -> CompactionReport? {
        let usage = try await store.segmentUsage()
        guard usage.contains(where: { $0.deadRatio >= threshold }) else { return nil }
        let report = try await store.compact(CompactionOptions(threshold: threshold))
        logger.info("background compaction: \(report.removed.count) of \(report.victims.count) segments removed, \(report.bytesReclaimed) bytes reclaimed in \(report.seconds) s")
        return report
    }

    /// Looks every `interval` until the task is cancelled.
    func run(interval: Duration) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
                try await pass()
            } catch is CancellationError {
                return
            } catch let error as StoreError where error.code == .slowDown {
                continue  // an operator's compaction is running
            } catch {
                logger.error("background compaction: \(error)")
            }
        }
    }
}
