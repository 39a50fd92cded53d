import NIOCore

/// Runs a connection's task on the event loop of its channel.
///
/// Without it, every request part the channel reads is handed from the event loop to a
/// thread of Swift's global pool, and every response part back: two thread wake-ups per
/// hop, which the profile of a 4 KiB GET showed as the largest cost after the signature
/// check. With the connection task preferring its own event loop, reading the next part
/// and writing a response are plain jobs on the same thread. Blocking work still leaves
/// the loop: file and index calls run on the store's thread pool, and group commit on
/// its own thread.
final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    let eventLoop: EventLoop

    init(_ eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    /// One executor per event loop of `group`, looked up by the loop's identity.
    final class Pool: @unchecked Sendable {
        private let executors: [ObjectIdentifier: EventLoopTaskExecutor]

        init(_ group: EventLoopGroup) {
            var executors: [ObjectIdentifier: EventLoopTaskExecutor] = [:]
            for loop in group.makeIterator() {
                executors[ObjectIdentifier(loop)] = EventLoopTaskExecutor(loop)
            }
            self.executors = executors
        }

        /// The executor of `loop`, or nil for a loop outside the group.
        func executor(for loop: EventLoop) -> EventLoopTaskExecutor? {
            executors[ObjectIdentifier(loop)]
        }
    }
}
