#if canImport(Glibc)
import Glibc
#endif
/// Appends little-endian integers and length-prefixed fields to a byte array.
/// Every payload in FORMAT.md is written with this and read back with `ByteReader`.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func write(bytes other: some Sequence<UInt8>) {
        bytes.append(contentsOf: other)
    }

    /// A byte string with a u32 length prefix.
    public mutating func writeBlob(_ blob: some Collection<UInt8>) {
        write(UInt32(blob.count))
        bytes.append(contentsOf: blob)
    }

    /// A UTF-8 string with a u32 length prefix.
    public mutating func writeString(_ string: String) {
        writeBlob(Array(string.utf8))
    }
}

/// Reads what `ByteWriter` wrote; throws instead of trapping on short or bad input.
public struct ByteReader: Sendable {
    /// The input ended before a field did, or a field was not valid.
    public struct Truncated: Error, Equatable {
        @inlinable public init() {}
    }

    @usableFromInline let bytes: [UInt8]
    @usableFromInline var _offset: Int
    public var offset: Int { _offset }

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self._offset = offset
    }

    @inlinable public var remaining: Int { bytes.count - _offset }
    public var isAtEnd: Bool { _offset == bytes.count }

    /// Inlinable, so callers in other modules get it specialised per integer type (a
    /// generic call per field was a fifth of a listing's time).
    @inlinable
    public mutating func read<T: FixedWidthInteger>(_: T.Type) throws(Truncated) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw Truncated() }
        let value = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: _offset, as: T.self) }
        _offset += size
        return T(littleEndian: value)
    }

    /// The next u64 without consuming it (nil if fewer than 8 bytes remain).
    public func peekU64() -> UInt64? {
        var copy = self
        return try? copy.read(UInt64.self)
    }

    public mutating func readBytes(_ count: Int) throws(Truncated) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw Truncated() }
        defer { _offset += count }
        return Array(bytes[_offset..<(_offset + count)])
    }

    public mutating func readBlob() throws(Truncated) -> [UInt8] {
        let count = try read(UInt32.self)
        return try readBytes(Int(count))
    }

    /// Steps over `count` bytes.
    public mutating func skip(_ count: Int) throws(Truncated) {
        guard count >= 0, remaining >= count else { throw Truncated() }
        _offset += count
    }

    /// Steps over a length-prefixed field without reading it.
    public mutating func skipBlob() throws(Truncated) {
        let count = Int(try read(UInt32.self))
        guard remaining >= count else { throw Truncated() }
        _offset += count
    }

    /// Whether the next length-prefixed field holds exactly `expected` (consumes nothing).
    public func nextBlob(equals expected: [UInt8]) -> Bool {
        var copy = self
        guard let count = try? copy.read(UInt32.self), Int(count) == expected.count, copy.remaining >= expected.count else { return false }
        guard !expected.isEmpty else { return true }
        return bytes.withUnsafeBufferPointer { all in
            expected.withUnsafeBufferPointer { memcmp(all.baseAddress! + copy._offset, $0.baseAddress!, expected.count) == 0 }
        }
    }

    /// A length-prefixed UTF-8 string, decoded straight from the bytes (index entries are
    /// decoded once per key a listing shows).
    public mutating func readString() throws(Truncated) -> String {
        let count = Int(try read(UInt32.self))
        guard remaining >= count else { throw Truncated() }
        let start = _offset
        _offset += count
        // `String(decoding:)` (specialized, fast) repairs invalid UTF-8, so the result is
        // compared with the bytes; `String(validating:)` did the same check through the
        // standard library's generic path, whose metadata lookups were 12% of a
        // ListObjectsV2's server time (perf).
        return try bytes.withUnsafeBufferPointer { (all) throws(Truncated) -> String in
            let raw = UnsafeBufferPointer(rebasing: all[start..<(start + count)])
            let s = String(decoding: raw, as: UTF8.self)
            guard !isASCII(raw) else { return s }  // ASCII is valid UTF-8: nothing was repaired
            var same = false
            var copy = s
            copy.withUTF8 { same = $0.count == raw.count && memcmp($0.baseAddress!, raw.baseAddress!, raw.count) == 0 }
            guard same else { throw Truncated() }
            return s
        }
    }
}

/// Whether every byte is below 0x80, eight at a time.
@inline(__always)
func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    guard let base = bytes.baseAddress else { return true }
    var i = 0
    var any: UInt64 = 0
    while i + 8 <= bytes.count {
        any |= UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
        i += 8
    }
    while i < bytes.count {
        any |= UInt64(base[i])
        i += 1
    }
    return any & 0x8080_8080_8080_8080 == 0
}
