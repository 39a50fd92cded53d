import SegmentLog
import Synchronization

/// The data records a GET has already checked against their CRC-32, so that the next GET
/// of the same bytes sends them without reading them twice.
///
/// Sound because segment bytes never change once written (FORMAT.md, "Reads"): a record
/// that matched its checksum still matches, and a re-check in the same process would
/// mostly re-read the page cache. A record that failed is never entered, so every read of
/// a damaged record fails. Bounded: past ``capacity`` records the set starts over (those
/// records are simply checked again). A compacted-away segment's entries stay until
/// then: harmless, as segment ids are never reused.
final class VerifiedRecords: Sendable {
    private let records = Mutex<Set<Extent>>([])
    /// A few MiB of set at most; with 1 MiB records, 64 GiB of object bytes.
    let capacity: Int

    init(capacity: Int = 1 << 16) {
        self.capacity = capacity
    }

    func contains(_ extent: Extent) -> Bool {
        records.withLock { $0.contains(extent) }
    }

    func insert(_ extent: Extent) {
        records.withLock { set in
            if set.count >= capacity { set.removeAll() }
            set.insert(extent)
        }
    }
}
