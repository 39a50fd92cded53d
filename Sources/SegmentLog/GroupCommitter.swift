import Foundation

/// Group commit: callers whose records are written wait here; a dedicated thread syncs
/// the log once for everyone who is waiting, runs the `onDurable` hook (the index applies
/// the commits the sync covered), and only then tells each caller "durable".
///
/// The sync runs on its own thread, never on Swift's cooperative pool or an event loop,
/// because fdatasync blocks for as long as the disk needs.
public final class GroupCommitter: @unchecked Sendable {
    /// Called on the sync thread after each successful sync with the position it covers.
    /// An error fails every caller of that batch.
    public typealias DurableHook = @Sendable (LogPosition) throws -> Void

    private let log: SegmentLog
    private let onDurable: DurableHook
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var waiters: [CheckedContinuation<Void, Error>] = []
    private var stopping = false
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    /// Told after each batch: how many commits it acknowledged and how long the sync and
    /// the index apply took (metrics). Guarded by `condition`.
    private var observer: (@Sendable (Int, Duration) -> Void)?

    /// Sets the batch observer (see ``observer``).
    public func observe(_ observer: @escaping @Sendable (_ commits: Int, _ syncTime: Duration) -> Void) {
        condition.withLock { self.observer = observer }
    }

    // Guarded by `condition`.
    private var syncedBatches: UInt64 = 0
    private var syncedCommits: UInt64 = 0

    /// Syncs done so far (each acknowledges a batch of commits).
    public var batches: UInt64 { condition.withLock { syncedBatches } }
    /// Commits acknowledged so far.
    public var commits: UInt64 { condition.withLock { syncedCommits } }

    public init(log: SegmentLog, onDurable: @escaping DurableHook) {
        self.log = log
        self.onDurable = onDurable
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "strata-group-commit"
        self.thread = thread
        thread.start()
    }

    /// Returns once every record appended before this call is durable and has been
    /// handed to the hook.
    public func waitDurable() async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            condition.lock()
            if stopping {
                condition.unlock()
                c.resume(throwing: CancellationError())
                return
            }
            waiters.append(c)
            condition.signal()
            condition.unlock()
        }
    }

    /// Finishes the batches already asked for, then stops the thread.
    public func shutdown() {
        condition.lock()
        if stopping {
            condition.unlock()
            return
        }
        stopping = true
        condition.signal()
        condition.unlock()
        finished.wait()
    }

    private func run() {
        while true {
            condition.lock()
            while waiters.isEmpty && !stopping { condition.wait() }
            if waiters.isEmpty && stopping {
                condition.unlock()
                finished.signal()
                return
            }
            let batch = waiters
            waiters.removeAll(keepingCapacity: true)
            condition.unlock()

            // Every record of this batch was written before its caller queued up here,
            // so the position `sync()` returns (taken after dequeuing) covers all of them.
            do {
                let started = ContinuousClock.now
                let position = try log.sync()
                try onDurable(position)
                let took = ContinuousClock.now - started
                condition.lock()
                syncedBatches += 1
                syncedCommits += UInt64(batch.count)
                let observer = self.observer
                condition.unlock()
                observer?(batch.count, took)
                for c in batch { c.resume() }
            } catch {
                for c in batch { c.resume(throwing: error) }
            }
        }
    }
}
