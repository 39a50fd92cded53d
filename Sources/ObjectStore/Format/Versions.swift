import ObjectIndex

/// The key layout of a key's versions (FORMAT.md, "Versions"): the newest version, if it
/// is an object, is `objects[name]`; every other one (noncurrent versions, and delete
/// markers wherever they stand) is `versions[name · 0x00 · ~order]`, and a version
/// deleted for good leaves `tombstones[name · 0x00 · ~order]`.
extension IndexKey {
    /// A `versions` key: `name · 0x00 · u64 BE (~order)`, so a key's versions sort newest
    /// first (FORMAT.md, "Versions"). `order` is the version's order sequence.
    static func version(_ name: [UInt8], order: UInt64) -> [UInt8] {
        name + [0] + bigEndian(~order)
    }

    /// The bytes a `versions` key adds to its object name.
    static let versionSuffixSize = 9

    /// The object name of a `versions` key.
    static func name(ofVersionKey key: [UInt8]) -> [UInt8] { Array(key.dropLast(versionSuffixSize)) }

    /// The order sequence a `versions` key ends with.
    static func order(ofVersionKey key: [UInt8]) -> UInt64 {
        ~(decodeBigEndian(key.suffix(8), as: UInt64.self) ?? 0)
    }

    /// Whether `key` (which starts with `name · 0x00`) is a `versions` key of `name` itself.
    /// A long-form name (the first 480 bytes of a longer name, then 8 bytes of its hash)
    /// extends the 480-byte name it starts with, and when its hash starts with 0x00 its
    /// version keys start with that name's `name · 0x00` too (sorting before the name's own,
    /// whose `~sequence` starts 0xFF); only the length tells them apart.
    static func isVersionKey(_ key: [UInt8], of name: [UInt8]) -> Bool {
        key.count == name.count + versionSuffixSize
    }
}
