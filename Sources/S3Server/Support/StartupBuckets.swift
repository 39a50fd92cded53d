import ObjectStore

/// Buckets that exist before a server reports ready (`strata serve --bucket`,
/// `StrataTesting`): owned by the root credentials, in the server's region.
public enum StartupBuckets {
    /// Creates `bucket` unless its owner already has it. Returns whether it was created;
    /// an invalid name throws the store's error.
    @discardableResult
    public static func create(_ bucket: String, in store: ObjectStore, rootAccessKey: String, region: String) async throws -> Bool {
        do {
            try await store.createBucket(bucket, attributes: attributes(rootAccessKey: rootAccessKey, region: region))
            return true
        } catch let error as StoreError where error.code == .bucketAlreadyOwnedByYou {
            return false
        }
    }

    /// The creation attributes of a startup bucket: the root's, in `region`.
    static func attributes(rootAccessKey: String, region: String) -> [String: String] {
        ["owner": Principal.root(accessKeyId: rootAccessKey).canonicalId, "region": region]
    }
}
