import ObjectIndex
import SegmentLog

extension ObjectStore {
    /// Stores a bucket configuration document (e.g. `lifecycle`) durably through the log,
    /// so it survives crashes and rebuilds; an empty document removes it.
    public func putBucketConfig(bucket: String, name: BucketConfigName, document: [UInt8]) async throws {
        try await commit(.bucketConfig(BucketConfigCommit(bucket: bucket, name: name, document: document))) { view in
            guard try view.bucketExists(bucket) else { throw StoreError.noSuchBucket(bucket) }
        }
    }

    /// A bucket configuration document, or nil if none is set (an empty document is a
    /// removal). NoSuchBucket.
    public func bucketConfig(bucket: String, name: BucketConfigName) async throws -> [UInt8]? {
        let index = self.index
        return try await io {
            try index.environment.read { txn in
                guard try txn.get(index.buckets, Array(bucket.utf8)) != nil else { throw StoreError.noSuchBucket(bucket) }
                return try txn.get(index.configs, IndexKey.config(bucket: bucket, name: name))
                    .map { try Payload.decodeConfig($0, offset: IndexValue.prefixSize).document }
                    .flatMap { $0.isEmpty ? nil : $0 }
            }
        }
    }

    /// A bucket and all of its configuration documents (by name), read together in one
    /// transaction so they belong to the same moment. A removed configuration is there
    /// with an empty document (it may override a creation attribute). A name this build
    /// does not know (none is written today) is left out. NoSuchBucket.
    public func bucketWithConfigs(_ bucket: String) async throws -> (bucket: BucketInfo, configs: [BucketConfigName: [UInt8]]) {
        let index = self.index
        return try await io {
            try index.environment.read { txn in
                let nameKey = Array(bucket.utf8)
                guard let value = try txn.get(index.buckets, nameKey) else { throw StoreError.noSuchBucket(bucket) }
                let info = try IndexValue.bucket(value)
                let prefix = nameKey + [0]
                let configs = try txn.withCursor(index.configs) { cursor in
                    var out: [BucketConfigName: [UInt8]] = [:]
                    var entry = try cursor.seek(atOrAfter: prefix)
                    while let e = entry, e.key.starts(with: prefix) {
                        let config = try Payload.decodeConfig(e.value, offset: IndexValue.prefixSize)
                        if let name = BucketConfigName(rawValue: config.name) { out[name] = config.document }
                        entry = try cursor.next()
                    }
                    return out
                }
                return (info, configs)
            }
        }
    }

    /// Every in-progress multipart upload of every bucket (for the expiry sweeper).
    public func allUploads() async throws -> [UploadInfo] {
        let index = self.index
        return try await io {
            try index.environment.read { txn in
                try txn.withCursor(index.uploads) { cursor in
                    var out: [UploadInfo] = []
                    var entry = try cursor.first()
                    while let e = entry {
                        out.append(try IndexValue.upload(e.value))
                        entry = try cursor.next()
                    }
                    return out
                }
            }
        }
    }
}
