import ObjectIndex
import SegmentLog

/// The names of bucket configurations (FORMAT.md, "Payload encodings", bucket
/// configuration): every name the store and the S3 front write or look up.
///
/// An enum so that a name cannot be misspelled and every kind of configuration is listed
/// in one place. The raw values are written into bucketConfig records and `configs` keys:
/// they are on disk and must not change.
public enum BucketConfigName: String, CaseIterable, Sendable {
    /// The versioning status text, `Enabled` or `Suspended` (``BucketVersioning``).
    case versioning
    /// The LifecycleConfiguration XML document as the client sent it.
    case lifecycle
    /// The CORSConfiguration XML document as the client sent it.
    case cors
    /// A `<Tagging>` document, as GetBucketTagging returns it.
    case tagging
    /// The bucket's ACL text (replaces the creation attribute `acl`).
    case acl
    /// The bucket policy JSON as PUT.
    case policy
    /// The PublicAccessBlockConfiguration XML as GET returns it.
    case publicAccessBlock
    /// The Object Ownership setting: `BucketOwnerEnforced`, `BucketOwnerPreferred` or `ObjectWriter`.
    case ownershipControls
}

extension IndexKey {
    /// `configs` key: `bucket name · 0x00 · configuration name`.
    static func config(bucket: String, name: BucketConfigName) -> [UInt8] {
        config(bucket: bucket, name: name.rawValue)
    }

    /// `configs` key of a name as a record holds it (maybe one this build does not know).
    static func config(bucket: String, name: String) -> [UInt8] {
        Array(bucket.utf8) + [0] + Array(name.utf8)
    }
}

extension Payload {
    /// bucketConfig: `u8 1 · string bucket · string name · blob document · extension area`;
    /// an empty document removes the configuration.
    static func encodeConfig(bucket: String, name: String, document: [UInt8]) -> [UInt8] {
        var w = ByteWriter()
        w.write(version)
        w.writeString(bucket)
        w.writeString(name)
        w.writeBlob(document)
        ExtensionArea().write(to: &w)  // no extension fields
        return w.bytes
    }

    static func decodeConfig(_ bytes: [UInt8], offset: Int = 0) throws -> (bucket: String, name: String, document: [UInt8]) {
        var r = ByteReader(bytes, offset: offset)
        try expectVersion(&r)
        let result = (try r.readString(), try r.readString(), try r.readBlob())
        try skipExtensions(&r)
        return result
    }
}

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
