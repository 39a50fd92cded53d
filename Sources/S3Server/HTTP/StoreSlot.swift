import ObjectStore
import Synchronization

/// The store a server serves, once it is open. `strata serve` listens before recovery
/// runs, so that health checks can tell "alive, not ready yet" (`/_strata/health/ready`
/// answers 503 until then) and S3 requests get 503 ServiceUnavailable meanwhile.
public final class StoreSlot: Sendable {
    private let value: Mutex<ObjectStore?>

    public init(_ store: ObjectStore? = nil) {
        value = Mutex(store)
    }

    /// The open store, or nil while it is being opened.
    public var store: ObjectStore? { value.withLock { $0 } }

    /// Makes the server ready.
    public func fill(_ store: ObjectStore) {
        value.withLock { $0 = store }
    }

    /// The store once it is open; nil if the task is cancelled first.
    func wait() async -> ObjectStore? {
        while !Task.isCancelled {
            if let store { return store }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }
}
