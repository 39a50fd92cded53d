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
        public init() {}
    }

    private let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset == bytes.count }

    public mutating func read<T: FixedWidthInteger>(_: T.Type) throws(Truncated) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw Truncated() }
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { dst in
            for i in 0..<size { dst[i] = bytes[offset + i] }
        }
        offset += size
        return T(littleEndian: value)
    }

    /// The next u64 without consuming it (nil if fewer than 8 bytes remain).
    public func peekU64() -> UInt64? {
        var copy = self
        return try? copy.read(UInt64.self)
    }

    public mutating func readBytes(_ count: Int) throws(Truncated) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw Truncated() }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    public mutating func readBlob() throws(Truncated) -> [UInt8] {
        let count = try read(UInt32.self)
        return try readBytes(Int(count))
    }

    public mutating func readString() throws(Truncated) -> String {
        let blob = try readBlob()
        guard let s = String(validating: blob, as: UTF8.self) else { throw Truncated() }
        return s
    }
}
