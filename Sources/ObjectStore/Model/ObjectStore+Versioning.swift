import ObjectIndex
import SegmentLog

/// A bucket's versioning state (PutBucketVersioning). Stored through the log as the
/// bucket configuration `versioning`, whose document is the status text `Enabled` or
/// `Suspended`; a bucket without one never had versioning enabled. Like S3, a bucket
/// never goes back to unversioned.
public enum BucketVersioning: String, Sendable {
    case unversioned = ""
    case enabled = "Enabled"
    case suspended = "Suspended"

    /// The state a stored `versioning` document names (none: unversioned).
    public init(document: [UInt8]?) {
        self = document.flatMap { BucketVersioning(rawValue: String(decoding: $0, as: UTF8.self)) } ?? .unversioned
    }
}

/// What a DeleteObject did.
public struct DeleteResult: Sendable, Equatable {
    /// The version the answer names (`x-amz-version-id`): the delete marker made, or the
    /// version removed (empty: the `null` version); nil in an unversioned bucket.
    public var versionID: String?
    /// A delete marker was made, or the version removed was one.
    public var isDeleteMarker: Bool
    /// Whether anything was written (false: nothing to delete, or the condition of
    /// ``ObjectStore/deleteObject(bucket:key:versionID:ifCurrentSequence:)`` failed).
    /// Not part of what the answer says, so not compared.
    public var wroteRecord = true

    public static func == (a: DeleteResult, b: DeleteResult) -> Bool {
        a.versionID == b.versionID && a.isDeleteMarker == b.isDeleteMarker
    }
}

/// One page of ListObjectVersions: versions and delete markers in key order, newest
/// first within a key.
public struct VersionListing: Sendable {
    public struct Entry: Sendable {
        public var info: ObjectInfo
        public var isLatest: Bool
    }
    public var entries: [Entry] = []
    public var commonPrefixes: [String] = []
    public var isTruncated = false
    public var nextKeyMarker: String?
    /// Empty: the `null` version.
    public var nextVersionIDMarker: String?
}

extension ObjectStore {
    // MARK: - Version ids

    private static let idAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._".utf8)

    /// A fresh version id: 32 URL-safe characters (192 random bits), like S3's. Ids are
    /// opaque; the order of versions is their commit sequence, not the id.
    public static func newVersionID() -> String {
        var rng = SystemRandomNumberGenerator()
        return String(decoding: (0..<32).map { _ in idAlphabet[Int(rng.next() % 64)] }, as: UTF8.self)
    }

    /// Whether `text` can be a version id this store hands out (`null`, or 32 characters of
    /// its alphabet). S3 answers InvalidArgument for a malformed id and NoSuchVersion for a
    /// well-formed one that names nothing.
    public static func isWellFormedVersionID(_ text: String) -> Bool {
        text == "null" || (text.utf8.count == 32 && text.utf8.allSatisfy { idAlphabet.contains($0) })
    }

    // MARK: - Configuration

    /// PutBucketVersioning: `.enabled` or `.suspended` (a bucket cannot be made
    /// unversioned). Every later commit of the bucket sees the new state: it is decided
    /// under the journal's lock, as is the version id of each write.
    ///
    /// A bucket with Object Lock keeps versioning Enabled for good (checked with the
    /// commit): a locked version must never be replaced as a `null` version would be.
    public func setVersioning(bucket: String, _ state: BucketVersioning) async throws {
        guard state != .unversioned else { throw StoreError(.invalidArgument, "A bucket cannot be made unversioned") }
        let commit = BucketConfigCommit(bucket: bucket, name: .versioning, document: Array(state.rawValue.utf8))
        try await self.commit(.bucketConfig(commit)) { view in
            guard try view.bucketExists(bucket) else { throw StoreError.noSuchBucket(bucket) }
            if state == .suspended, try view.objectLockEnabled(bucket: bucket) {
                throw StoreError(.invalidBucketState, "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.")
            }
        }
    }

    /// Turns Object Lock on for a bucket whose versioning is Enabled, storing its
    /// configuration document (S3: InvalidBucketState otherwise); a bucket that has it
    /// takes a new document (another default retention).
    public func putObjectLockConfiguration(bucket: String, document: [UInt8]) async throws {
        precondition(!document.isEmpty, "Object Lock cannot be turned off")
        try await commit(.bucketConfig(BucketConfigCommit(bucket: bucket, name: .objectLock, document: document))) { view in
            guard try view.bucketExists(bucket) else { throw StoreError.noSuchBucket(bucket) }
            guard try view.versioning(bucket: bucket) == .enabled else {
                throw StoreError(.invalidBucketState, "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration")
            }
        }
    }

    /// GetBucketVersioning. NoSuchBucket. A bucket created with Object Lock is Enabled
    /// before any PutBucketVersioning (as ``Journal/View/versioning(bucket:)`` decides it).
    public func versioning(bucket: String) async throws -> BucketVersioning {
        if let document = try await bucketConfig(bucket: bucket, name: .versioning) { return BucketVersioning(document: document) }
        return try await self.bucket(bucket).attributes[BucketInfo.objectLockAttribute] == "Enabled" ? .enabled : .unversioned
    }

    // MARK: - Commits

    /// What a PUT, CopyObject or CompleteMultipartUpload writes, decided under the journal's
    /// lock: in an unversioned bucket the entry as it is (the `null` version, no extra index
    /// work); with versioning Enabled a fresh version id; Suspended, the `null` version
    /// replacing the one there was.
    static func buildPut(_ info: ObjectInfo, view: Journal.View) throws -> Journal.Built {
        var info = info
        let state = try view.versioning(bucket: info.bucket)
        guard state != .unversioned else {
            return Journal.Built(commit: .putObject(PutObjectCommit(info)), object: info)
        }
        info.versionID = state == .enabled ? newVersionID() : ""
        // No read of the key's other versions: the new one is current whatever they are.
        return Journal.Built(commit: .putObject(PutObjectCommit(info)), object: info,
                             versions: info.versionID.isEmpty ? [.removeNull, .add(info)] : [.add(info)], versioning: state)
    }

    /// DeleteObject. Without `versionID`: in an unversioned bucket the object goes (a key
    /// that does not exist succeeds and writes nothing); with versioning Enabled a delete
    /// marker with a fresh id becomes the current version; Suspended, a `null` delete marker
    /// replaces the `null` version. With `versionID` (empty: the `null` version) that
    /// version or marker is removed for good; one that does not exist succeeds, as in S3.
    ///
    /// `ifCurrentSequence` (lifecycle expiration): delete the current version only if it
    /// is still the commit with this sequence, checked atomically with the delete, so a
    /// version written after the caller looked is never expired.
    ///
    /// A version Object Lock protects (``ObjectLock/protects(now:bypassingGovernance:)``)
    /// is not removed: `.objectLocked`, decided with the commit, so a lock set meanwhile
    /// holds. This is the one place versions are removed for good (DeleteObject,
    /// DeleteObjects and lifecycle expiration all come here), and compaction reclaims only
    /// removed versions' bytes, so a locked version survives all of them.
    @discardableResult
    public func deleteObject(bucket: String, key: String, versionID: String? = nil,
                             ifCurrentSequence: UInt64? = nil, bypassingGovernance: Bool = false) async throws -> DeleteResult {
        try Validation.checkKey(key)
        do {
            let (_, built) = try await commit { view in
                guard try view.bucketExists(bucket) else { throw StoreError.noSuchBucket(bucket) }
                if let ifCurrentSequence, versionID == nil {
                    // A pending version (sequence 0 in the view) is newer than any read one.
                    guard let current = try view.object(bucket: bucket, key: key), current.sequence == ifCurrentSequence
                    else { throw AlreadyGone() }
                }
                if let versionID {
                    let list = try view.versions(bucket: bucket, key: key)
                    guard let target = list.first(where: { $0.versionID == versionID }) else { throw AlreadyGone() }
                    if let lock = target.lock, lock.protects(now: Self.now(), bypassingGovernance: bypassingGovernance) {
                        throw StoreError(.objectLocked, "Access Denied because object protected by object lock.")
                    }
                    let rest = list.filter { $0.sequence != target.sequence }
                    let delete = Payload.DeleteEntry(bucket: bucket, key: key, versionID: versionID, time: Self.now(),
                                                     targetSequence: versionID.isEmpty ? nil : target.orderSequence)
                    return Journal.Built(commit: .deleteObject(DeleteObjectCommit(delete)),
                                         object: rest.first.flatMap { $0.isDeleteMarker ? nil : $0 },
                                         versions: [versionID.isEmpty ? .removeNull : .remove(order: target.orderSequence)],
                                         removed: target)
                }
                let state = try view.versioning(bucket: bucket)
                guard state != .unversioned else {
                    // Deleted meanwhile by another request: nothing to do, and no record needed.
                    guard try view.object(bucket: bucket, key: key) != nil else { throw AlreadyGone() }
                    let delete = Payload.DeleteEntry(bucket: bucket, key: key, versionID: "", time: Self.now())
                    return Journal.Built(commit: .deleteObject(DeleteObjectCommit(delete)))
                }
                var marker = ObjectInfo(bucket: bucket, key: key, versionID: state == .enabled ? Self.newVersionID() : "",
                                        size: 0, lastModified: Self.now(), etag: "", extents: [])
                marker.isDeleteMarker = true
                return Journal.Built(commit: .putObject(PutObjectCommit(marker)),
                                     versions: marker.versionID.isEmpty ? [.removeNull, .add(marker)] : [.add(marker)],
                                     removed: marker)
            }
            if let versionID { return DeleteResult(versionID: versionID, isDeleteMarker: built.removed?.isDeleteMarker ?? false) }
            if let marker = built.removed { return DeleteResult(versionID: marker.versionID, isDeleteMarker: true) }
            return DeleteResult(versionID: nil, isDeleteMarker: false)
        } catch is AlreadyGone {
            return DeleteResult(versionID: versionID, isDeleteMarker: false, wroteRecord: false)
        }
    }

    private struct AlreadyGone: ControlSignal {}

    /// Re-commits a version with changed metadata (tags, ACL, …), keeping its bytes, its
    /// version id and its place among the key's versions: S3 makes no new version for a
    /// metadata-only change. `versionID` nil is the current version (NoSuchKey when a
    /// delete marker is current), empty the `null` version; NoSuchVersion for an unknown
    /// id, MethodNotAllowed for a delete marker. `change` runs under the journal's lock on
    /// the version as it is at the commit, so concurrent changes do not get lost; it must
    /// not change the bytes (size, extents, ETag).
    ///
    /// The record is a putObject with extension field 4 (the version's first commit's
    /// sequence); FORMAT.md, "Versions".
    @discardableResult
    public func recommitVersion(bucket: String, key: String, versionID: String? = nil,
                                _ change: @escaping @Sendable (inout ObjectInfo) throws -> Void) async throws -> ObjectInfo {
        try Validation.checkKey(key)
        let (record, built) = try await commit { view in
            guard try view.bucketExists(bucket) else { throw StoreError.noSuchBucket(bucket) }
            let list = try view.versions(bucket: bucket, key: key)
            let target: ObjectInfo
            if let versionID {
                guard let found = list.first(where: { $0.versionID == versionID }) else {
                    throw StoreError(.noSuchVersion, "The specified version does not exist.")
                }
                guard !found.isDeleteMarker else {
                    throw StoreError(.methodNotAllowed, "The specified method is not allowed against this resource.")
                }
                target = found
            } else {
                guard let current = list.first, !current.isDeleteMarker else { throw StoreError.noSuchKey(key) }
                target = current
            }
            var info = target
            try change(&info)
            guard info.bucket == target.bucket, info.key == target.key, info.versionID == target.versionID,
                  info.size == target.size, info.extents == target.extents, info.etag == target.etag,
                  info.isDeleteMarker == target.isDeleteMarker else {
                throw StoreError(.internalError, "a metadata-only re-commit changed the version's identity or bytes")
            }
            info.versionSequence = target.orderSequence
            info.completesUpload = nil  // the upload it completed is closed already
            info.sequence = 0
            let isCurrent = list.first?.sequence == target.sequence
            return Journal.Built(commit: .putObject(PutObjectCommit(info)),
                                 object: isCurrent ? info : try view.object(bucket: bucket, key: key),
                                 versions: [.remove(order: target.orderSequence), .add(info)])
        }
        guard case .add(var info)? = built.versions?.last else { throw StoreError(.internalError, "re-commit without its entry") }
        info.sequence = record.sequence
        return info
    }

    // MARK: - Reads

    /// Every live version of a key in the index, newest first, delete markers included:
    /// the current object (`objects`) and then the `versions` entries, which sort newest
    /// first (FORMAT.md, "Versions").
    static func versionList(_ index: ObjectIndex, _ txn: Transaction, bucket: String, key: String) throws -> [ObjectInfo] {
        let name = IndexKey.object(bucket: bucket, key: Array(key.utf8))
        var out: [ObjectInfo] = []
        if let value = try txn.get(index.objects, name) {
            let info = try IndexValue.object(value)
            if info.bucket == bucket, info.key == key { out.append(info) }
        }
        let prefix = name + [0]
        try txn.withCursor(index.versions) { c in
            var entry = try c.seek(atOrAfter: prefix)
            while let e = entry, e.key.starts(with: prefix) {
                let info = try IndexValue.object(e.value)
                // A long-form name is shared by keys with the same first bytes.
                if info.bucket == bucket, info.key == key { out.append(info) }
                entry = try c.next()
            }
        }
        return out
    }

    /// A key's versions, newest first (delete markers included). NoSuchBucket.
    public func versions(bucket: String, key: String) async throws -> [ObjectInfo] {
        let index = self.index
        return try await io {
            try index.environment.read { txn in
                guard try txn.get(index.buckets, Array(bucket.utf8)) != nil else { throw StoreError.noSuchBucket(bucket) }
                return try Self.versionList(index, txn, bucket: bucket, key: key)
            }
        }
    }

    /// ListObjectVersions: versions and delete markers of the keys under `prefix`, in key
    /// order and newest first within a key, from after (`keyMarker`, `versionIDMarker`);
    /// keys are rolled up into common prefixes at `delimiter`. `maxKeys` counts versions,
    /// markers and common prefixes. Version ids here are the stored form (empty: `null`).
    public func listVersions(bucket: String, prefix: String = "", delimiter: String? = nil, keyMarker: String? = nil,
                             versionIDMarker: String? = nil, maxKeys: Int = 1000) async throws -> VersionListing {
        let index = self.index
        return try await io {
            try index.environment.read { txn in
                try Self.listVersions(index, txn, bucket: bucket, prefix: prefix, delimiter: delimiter, keyMarker: keyMarker,
                                      versionIDMarker: versionIDMarker, maxKeys: maxKeys)
            }
        }
    }

    static func listVersions(_ index: ObjectIndex, _ txn: Transaction, bucket: String, prefix: String, delimiter: String?,
                             keyMarker: String?, versionIDMarker: String?, maxKeys: Int) throws -> VersionListing {
        guard try txn.get(index.buckets, Array(bucket.utf8)) != nil else { throw StoreError.noSuchBucket(bucket) }
        var page = VersionListing()
        guard maxKeys > 0 else { return page }
        let base = IndexKey.bucketPrefix(bucket)
        let prefixBytes = Array(prefix.utf8)
        let delimiterBytes = delimiter.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        let scope = base + prefixBytes
        var count = 0

        /// The common prefix `key` rolls up into, if any.
        func commonPrefix(_ key: [UInt8]) -> [UInt8]? {
            guard let d = delimiterBytes, key.starts(with: prefixBytes) else { return nil }
            return firstRange(of: d, in: key, from: prefixBytes.count).map { Array(key[..<$0]) }
        }
        /// Adds one version; false when the page is full (and then it is truncated).
        func add(_ info: ObjectInfo, isLatest: Bool) -> Bool {
            if count == maxKeys {
                page.isTruncated = true
                return false
            }
            page.entries.append(.init(info: info, isLatest: isLatest))
            page.nextKeyMarker = info.key
            page.nextVersionIDMarker = info.versionID
            count += 1
            return true
        }

        // Where the walk starts: the first name in scope after the key marker. A key's
        // version keys are `name · 0x00 · …`; the names after `name` start at `name · 0x00`
        // too (a long-form name extending a 480-byte one may continue with a hash byte 0x00),
        // so the walk goes on from there, skipping the entries of names it is done with. A
        // marker inside a common prefix skips the whole prefix.
        var seek = scope
        var done: [UInt8]?
        if let marker = keyMarker, !marker.isEmpty {
            let markerBytes = Array(marker.utf8)
            var after = base + markerBytes + [1]
            if base.count + markerBytes.count <= IndexKey.inlineLimit {
                after = base + markerBytes + [0]
                done = base + markerBytes
            }
            if let common = commonPrefix(markerBytes), let next = IndexKey.successor(ofPrefix: base + common) {
                after = next
            } else if let versionIDMarker, !versionIDMarker.isEmpty, markerBytes.starts(with: prefixBytes) {
                // Resume inside the marker's key, after the version named.
                let wanted = versionIDMarker == "null" ? "" : versionIDMarker
                let list = try versionList(index, txn, bucket: bucket, key: marker)
                if let i = list.firstIndex(where: { $0.versionID == wanted }) {
                    for (j, info) in list.enumerated().dropFirst(i + 1) where !add(info, isLatest: j == 0) { return page }
                }
            }
            if !after.lexicographicallyPrecedes(seek) { seek = after }
        }

        /// Whether `name` is after the last name the walk is done with.
        func isNew(_ name: [UInt8]) -> Bool { done.map { $0.lexicographicallyPrecedes(name) } ?? true }
        /// The name of the first `versions` entry at or after `seek` that is new.
        func nextVersionName() throws -> [UInt8]? {
            let found = try txn.withCursor(index.versions) { c in
                var entry = try c.seek(atOrAfter: seek)
                while let e = entry, e.key.starts(with: scope), !isNew(IndexKey.name(ofVersionKey: e.key)) { entry = try c.next() }
                return entry.map { IndexKey.name(ofVersionKey: $0.key) }
            }
            // A long-form name whose hash starts with 0x00 interleaves its version keys with
            // those of the 480-byte name it extends, which sorts before it.
            guard let name = found, IndexKey.isLongForm(name), name[IndexKey.inlineLimit] == 0 else { return found }
            let shorter = Array(name[..<IndexKey.inlineLimit])
            guard isNew(shorter), shorter.starts(with: scope) else { return name }
            let hasOwn = try txn.withCursor(index.versions) { c in
                var entry = try c.seek(atOrAfter: shorter + [0])
                while let e = entry, e.key.starts(with: shorter + [0]) {
                    if IndexKey.isVersionKey(e.key, of: shorter) { return true }
                    entry = try c.next()
                }
                return false
            }
            return hasOwn ? shorter : name
        }

        while true {
            // The next name: the smaller of the next `objects` key and the next `versions` key's name.
            let fromObjects = try txn.withCursor(index.objects) { try $0.seek(atOrAfter: seek)?.key }
            let fromVersions = try nextVersionName()
            let candidates = [fromObjects, fromVersions].compactMap { $0 }.filter { $0.starts(with: scope) }
            guard let name = candidates.min(by: { $0.lexicographicallyPrecedes($1) }) else { break }
            let keyBytes = IndexKey.isLongForm(name) ? nil : Array(name[base.count...])
            let list: [ObjectInfo]
            if let keyBytes {
                list = try versionList(index, txn, bucket: bucket, key: String(decoding: keyBytes, as: UTF8.self))
            } else {
                list = try longNameVersions(index, txn, name: name)
            }
            let key = list.first.map { Array($0.key.utf8) } ?? keyBytes ?? []
            if let common = commonPrefix(key) {
                if count == maxKeys {
                    page.isTruncated = true
                    break
                }
                page.commonPrefixes.append(String(decoding: common, as: UTF8.self))
                page.nextKeyMarker = String(decoding: common, as: UTF8.self)
                page.nextVersionIDMarker = nil
                count += 1
                guard let next = IndexKey.successor(ofPrefix: base + common) else { break }
                seek = next
                continue
            }
            for (i, info) in list.enumerated() where !add(info, isLatest: i == 0) { return page }
            seek = name + [0]
            done = name
        }
        if !page.isTruncated {
            page.nextKeyMarker = nil
            page.nextVersionIDMarker = nil
        }
        return page
    }

    /// Versions under a long-form name (keys longer than the inline limit), newest first.
    private static func longNameVersions(_ index: ObjectIndex, _ txn: Transaction, name: [UInt8]) throws -> [ObjectInfo] {
        var out: [ObjectInfo] = []
        if let value = try txn.get(index.objects, name) { out.append(try IndexValue.object(value)) }
        try txn.withCursor(index.versions) { c in
            var entry = try c.seek(atOrAfter: name + [0])
            while let e = entry, e.key.starts(with: name + [0]) {
                out.append(try IndexValue.object(e.value))
                entry = try c.next()
            }
        }
        return out
    }
}
