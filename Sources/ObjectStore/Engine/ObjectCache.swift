import NIOCore
import Synchronization

/// The current versions of recently read small objects, in memory: their information
/// and, once a GET read them, their bytes.
///
/// Why: a 4 KiB GET spent about a third of its time handing its index lookup and read
/// to the store's thread pool and back (two thread wake-ups); serving a repeated read
/// from memory needs neither, and the event loops still never touch LMDB or a file
/// (docs/DESIGN.md, "Event loops never block"). Dev and CI workloads read the same
/// fixtures again and again.
///
/// Coherence (a GET after an acknowledged write never sees the older version):
/// - Every change to the index goes through ``Journal/applyDurable(upTo:)``, which,
///   after its LMDB transaction committed and before any of the batch's writers is
///   answered, calls ``invalidate(_:)`` with the names the batch touched (or
///   ``removeAll()`` for a record it cannot name). Invalidation removes the entries and
///   advances ``generation``.
/// - A reader takes ``generation`` before its LMDB read transaction starts and inserts
///   what it read only if the generation has not moved since (``insert(_:info:bytes:ifUnchangedSince:)``).
///   If a change was committed after the read started, either the invalidation came
///   first (the insert is refused) or the insert came first (the invalidation then
///   removes it). Either way no entry outlives the change it predates.
/// Only current versions are cached (reads by version id go to the index), only whole
/// objects, and only objects of at most ``maxObjectBytes``; the cache holds at most
/// ``capacity`` bytes, evicting the oldest entries first.
final class ObjectCache: Sendable {
    struct Name: Hashable, Sendable {
        let bucket: String
        let key: String
    }

    struct Entry: Sendable {
        let info: ObjectInfo
        /// The whole object, already checked against its records' checksums; nil when
        /// only a HEAD read it.
        let bytes: ByteBuffer?
        fileprivate let stamp: UInt64
        fileprivate let cost: Int
    }

    private struct State {
        var entries: [Name: Entry] = [:]
        /// Insertion order for eviction; names whose entry was replaced or removed since
        /// are skipped (their stamp no longer matches).
        var order = CircularBuffer<(name: Name, stamp: UInt64)>()
        var bytes = 0
        var generation: UInt64 = 0
        var nextStamp: UInt64 = 0
    }

    /// Bytes the entries may take, object bytes and an estimate of their information.
    let capacity: Int
    /// The largest object whose bytes are kept.
    let maxObjectBytes: Int
    private let state = Mutex(State())

    /// A cache of at most `capacity` bytes; 0 caches nothing.
    init(capacity: Int) {
        self.capacity = max(0, capacity)
        self.maxObjectBytes = min(256 << 10, self.capacity / 16)
    }

    var isEnabled: Bool { capacity > 0 }

    /// Taken by a reader before it reads the index (see the type's comment).
    var generation: UInt64 { state.withLock { $0.generation } }

    func lookup(_ name: Name) -> Entry? {
        guard isEnabled else { return nil }
        return state.withLock { $0.entries[name] }
    }

    /// Keeps what a reader read, unless the index changed since it took `generation`.
    /// An entry with bytes is not replaced by one without (a HEAD after a GET).
    func insert(_ name: Name, info: ObjectInfo, bytes: ByteBuffer?, ifUnchangedSince generation: UInt64) {
        guard isEnabled else { return }
        if let bytes, bytes.readableBytes > maxObjectBytes { return }
        // Bucket and key are counted twice (the dictionary and the information), plus
        // a fixed estimate for the rest of the information.
        let cost = (bytes?.readableBytes ?? 0) + 2 * (name.bucket.utf8.count + name.key.utf8.count) + 512
        state.withLock { s in
            guard s.generation == generation else { return }
            if let old = s.entries[name] {
                if bytes == nil && old.bytes != nil { return }
                s.bytes -= old.cost
            }
            s.nextStamp += 1
            s.entries[name] = Entry(info: info, bytes: bytes, stamp: s.nextStamp, cost: cost)
            s.order.append((name, s.nextStamp))
            s.bytes += cost
            while s.bytes > capacity, let oldest = s.order.popFirst() {
                if let entry = s.entries[oldest.name], entry.stamp == oldest.stamp {
                    s.entries[oldest.name] = nil
                    s.bytes -= entry.cost
                }
            }
            // Names replaced or invalidated stay in `order` until evicted; keep it from
            // growing without bound when a few keys are rewritten and reread in a loop.
            if s.order.count > 4 * s.entries.count + 1024 {
                let live = s.order.filter { s.entries[$0.name]?.stamp == $0.stamp }
                s.order = CircularBuffer(live)
            }
        }
    }

    /// Forgets `names` (their index entries changed) and refuses inserts of reads that
    /// started before.
    func invalidate(_ names: some Sequence<Name>) {
        guard isEnabled else { return }
        state.withLock { s in
            s.generation &+= 1
            for name in names {
                if let entry = s.entries.removeValue(forKey: name) { s.bytes -= entry.cost }
            }
        }
    }

    /// Forgets everything and refuses inserts of reads that started before.
    func removeAll() {
        guard isEnabled else { return }
        state.withLock { s in
            s.generation &+= 1
            s.entries.removeAll()
            s.order.removeAll()
            s.bytes = 0
        }
    }

    /// Entries and bytes held (tests, metrics).
    var usage: (entries: Int, bytes: Int) { state.withLock { ($0.entries.count, $0.bytes) } }
}
