import ObjectIndex

/// What to list (ListObjects / ListObjectsV2 parameters, in bytes).
public struct ListRequest: Sendable {
    public var prefix: String
    /// Keys are rolled up into common prefixes at the first occurrence of this after the prefix.
    public var delimiter: String?
    /// List only what sorts after this (marker, start-after, or a continuation token's position).
    public var after: String?
    public var maxKeys: Int

    public init(prefix: String = "", delimiter: String? = nil, after: String? = nil, maxKeys: Int = 1000) {
        self.prefix = prefix
        self.delimiter = delimiter
        self.after = after
        self.maxKeys = maxKeys
    }
}

/// One page of a listing, in key order.
public struct ListPage: Sendable {
    /// Summaries: what a listing shows and lifecycle rules test (`Payload.decodeObject`'s
    /// `summary`): no extents, part sizes or part checksums; of the metadata only
    /// `x-amz-storage-class`.
    public var objects: [ObjectInfo] = []
    public var commonPrefixes: [String] = []
    public var isTruncated = false
    /// The last key or common prefix returned: where the next page starts (after it).
    public var next: String?
}

extension ObjectStore {
    /// Lists a bucket with a cursor walk over the index. A common prefix is emitted once,
    /// at its own place in the order, and skipped in one seek to its successor, so a page
    /// costs what it returns, not what the bucket holds.
    public func listObjects(bucket: String, _ request: ListRequest) async throws -> ListPage {
        let index = self.index
        return try await io { try index.environment.read { try Self.list(index, $0, bucket: bucket, request) } }
    }

    static func list(_ index: ObjectIndex, _ txn: Transaction, bucket: String, _ request: ListRequest) throws -> ListPage {
        guard try txn.get(index.buckets, Array(bucket.utf8)) != nil else { throw StoreError.noSuchBucket(bucket) }
        var page = ListPage()
        guard request.maxKeys > 0 else { return page }
        let base = IndexKey.bucketPrefix(bucket)
        let prefix = Array(request.prefix.utf8)
        let delimiter = request.delimiter.map { Array($0.utf8) } ?? []
        let after = request.after.map { Array($0.utf8) }
        var seek = base + prefix
        if let after, !after.lexicographicallyPrecedes(prefix) { seek = base + after }
        var count = 0
        let scope = base + prefix
        return try txn.withCursor(index.objects) { raw in
            var cursor = OrderedObjectCursor(raw)
            var entry = try cursor.seek(seek)
            while let e = entry, e.name.starts(with: scope) {
                let key = Array(e.name[base.count...])
                if let after, !after.lexicographicallyPrecedes(key) {
                    entry = try cursor.next()
                    continue
                }
                if !delimiter.isEmpty, let cut = firstRange(of: delimiter, in: key, from: prefix.count) {
                    let common = Array(key[..<cut])
                    // A common prefix sorts at its own place: if that is not after the
                    // marker, it was returned on an earlier page.
                    if after == nil || after!.lexicographicallyPrecedes(common) {
                        if count == request.maxKeys {
                            page.isTruncated = true
                            break
                        }
                        page.commonPrefixes.append(String(decoding: common, as: UTF8.self))
                        page.next = page.commonPrefixes.last
                        count += 1
                    }
                    entry = try IndexKey.successor(ofPrefix: base + common).map { try cursor.seek($0) } ?? nil
                    continue
                }
                if count == request.maxKeys {
                    page.isTruncated = true
                    break
                }
                page.objects.append(try IndexValue.object(e.value, summary: true))
                page.next = page.objects.last?.key
                count += 1
                entry = try cursor.next()
            }
            return page
        }
    }

    /// End index (exclusive) of the first occurrence of `needle` in `hay` at or after `from`.
    static func firstRange(of needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard needle.count > 0, hay.count >= needle.count, from <= hay.count - needle.count else { return nil }
        for i in from...(hay.count - needle.count) where hay[i] == needle[0] {
            if hay[i..<(i + needle.count)].elementsEqual(needle) { return i + needle.count }
        }
        return nil
    }
}
