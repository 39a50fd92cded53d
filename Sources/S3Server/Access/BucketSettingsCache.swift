import Synchronization

/// The access settings of recently used buckets, so a request does not read the bucket's
/// ACL, policy and ownership from the index every time.
///
/// Every change to those settings goes through this server, which calls ``invalidate(_:)``
/// after the change is committed. A reader that loaded the old settings before the change
/// cannot put them back afterwards: ``insert(_:_:loadedAt:)`` drops what was loaded before
/// the latest invalidation.
final class BucketSettingsCache: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var entries: [String: BucketSettings] = [:]
    }

    private let state = Mutex(State())
    /// Entries kept at most; the cache starts over when full.
    let capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    func get(_ bucket: String) -> BucketSettings? {
        state.withLock { $0.entries[bucket] }
    }

    /// Read before loading settings from the index; pass it to ``insert(_:_:loadedAt:)``.
    var generation: UInt64 { state.withLock { $0.generation } }

    func insert(_ bucket: String, _ access: BucketSettings, loadedAt generation: UInt64) {
        state.withLock {
            guard $0.generation == generation else { return }
            if $0.entries.count >= capacity { $0.entries.removeAll(keepingCapacity: true) }
            $0.entries[bucket] = access
        }
    }

    /// Forgets every bucket (the store was reset).
    func invalidateAll() {
        state.withLock {
            $0.generation &+= 1
            $0.entries.removeAll()
        }
    }

    func invalidate(_ bucket: String) {
        state.withLock {
            $0.generation &+= 1
            $0.entries[bucket] = nil
        }
    }
}
