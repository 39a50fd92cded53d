import ObjectIndex

/// Walks the `objects` table in true key order. LMDB order is key order except inside
/// a run of long-form keys that share their first `IndexKey.inlineLimit` bytes (FORMAT.md,
/// "Long keys"); such a run is read whole and sorted by the full names in the values.
struct OrderedObjectCursor {
    typealias Entry = (name: [UInt8], value: [UInt8])

    private var cursor: Cursor
    private var group: [Entry] = []
    private var lookahead: (key: [UInt8], value: [UInt8])?
    private var atEnd = false

    init(_ cursor: Cursor) { self.cursor = cursor }

    /// The first entry whose full name is ≥ `name`.
    mutating func seek(_ name: [UInt8]) throws -> Entry? {
        group = []
        lookahead = nil
        atEnd = false
        let start = name.count > IndexKey.inlineLimit ? Array(name[0..<IndexKey.inlineLimit]) : name
        var entry = try fill(try cursor.seek(atOrAfter: start))
        while let e = entry, e.name.lexicographicallyPrecedes(name) { entry = try next() }
        return entry
    }

    mutating func next() throws -> Entry? {
        if !group.isEmpty { return group.removeFirst() }
        if let e = lookahead {
            lookahead = nil
            return try fill(e)
        }
        if atEnd { return nil }
        return try fill(try cursor.next())
    }

    private mutating func fill(_ raw: (key: [UInt8], value: [UInt8])?) throws -> Entry? {
        guard let raw else {
            atEnd = true
            return nil
        }
        guard IndexKey.isLongForm(raw.key) else { return (raw.key, raw.value) }
        let head = raw.key[0..<IndexKey.inlineLimit]
        var members: [Entry] = [(try Self.fullName(raw.value), raw.value)]
        while true {
            guard let e = try cursor.next() else {
                atEnd = true
                break
            }
            guard IndexKey.isLongForm(e.key), e.key[0..<IndexKey.inlineLimit] == head else {
                lookahead = e
                break
            }
            members.append((try Self.fullName(e.value), e.value))
        }
        members.sort { $0.name.lexicographicallyPrecedes($1.name) }
        group = Array(members.dropFirst())
        return members[0]
    }

    /// The full object name of an `objects` value.
    static func fullName(_ value: [UInt8]) throws -> [UInt8] {
        let info = try IndexValue.object(value)
        return IndexKey.bucketPrefix(info.bucket) + Array(info.key.utf8)
    }
}
