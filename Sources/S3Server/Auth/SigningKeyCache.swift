import Synchronization

/// Remembers derived SigV4 signing keys (with their HMAC key schedule, ``SigningKey``), keyed by (secret, date, region, service), so the
/// four-HMAC derivation runs once per key per day rather than once per request.
///
/// Shared by all connections; bounded so a flood of distinct scopes cannot grow it.
public final class SigningKeyCache: Sendable {
    private struct Key: Hashable {
        var secret: String, date: String, region: String, service: String
    }

    private let entries = Mutex<[Key: SigningKey]>([:])
    private let capacity: Int

    /// Creates an empty cache holding at most `capacity` keys.
    public init(capacity: Int = 256) {
        self.capacity = capacity
    }

    /// The signing key for this scope, derived on first use.
    public func signingKey(secret: String, date: String, region: String, service: String) -> SigningKey {
        let key = Key(secret: secret, date: date, region: region, service: service)
        if let hit = entries.withLock({ $0[key] }) { return hit }
        let derived = SigningKey(SigV4.signingKey(secret: secret, date: date, region: region, service: service))
        entries.withLock { table in
            if table.count >= capacity { table.removeAll(keepingCapacity: true) }
            table[key] = derived
        }
        return derived
    }

    /// How many keys are cached (for tests).
    var count: Int { entries.withLock { $0.count } }
}
