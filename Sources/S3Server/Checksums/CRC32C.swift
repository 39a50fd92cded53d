/// CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, initial value and final XOR
/// all ones. Used by S3 for `x-amz-checksum-crc32c`.
///
/// Computed with slicing-by-8 tables: eight bytes per step, which keeps checksumming well
/// below the cost of moving the bytes on a large PUT.
struct CRC32C: Sendable {
    /// The running register, before the final XOR.
    private var state: UInt32 = 0xFFFF_FFFF

    init() {}

    /// Feeds more bytes.
    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var crc = state
        var index = 0
        let count = bytes.count
        CRC32C.table.withUnsafeBufferPointer { t in
            while count - index >= 8 {
                var one: UInt32 = 0
                var two: UInt32 = 0
                for k in 0..<4 {
                    one |= UInt32(bytes[index + k]) << (8 * UInt32(k))
                    two |= UInt32(bytes[index + 4 + k]) << (8 * UInt32(k))
                }
                one ^= crc
                crc = t[7 * 256 + Int(one & 0xFF)] ^ t[6 * 256 + Int((one >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((one >> 16) & 0xFF)] ^ t[4 * 256 + Int(one >> 24)]
                    ^ t[3 * 256 + Int(two & 0xFF)] ^ t[2 * 256 + Int((two >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((two >> 16) & 0xFF)] ^ t[Int(two >> 24)]
                index += 8
            }
            while index < count {
                crc = t[Int((crc ^ UInt32(bytes[index])) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
        }
        state = crc
    }

    /// The checksum of everything fed so far.
    var value: UInt32 { state ^ 0xFFFF_FFFF }

    /// One-shot convenience.
    static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc = CRC32C()
        let array = Array(bytes)
        array.withUnsafeBytes { crc.update($0) }
        return crc.value
    }

    /// Eight 256-entry tables laid out one after another.
    static let table: [UInt32] = {
        let polynomial: UInt32 = 0x82F6_3B78
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var crc = UInt32(i)
            for _ in 0..<8 {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ polynomial : crc >> 1
            }
            table[i] = crc
        }
        for i in 0..<256 {
            var crc = table[i]
            for slice in 1..<8 {
                crc = table[Int(crc & 0xFF)] ^ (crc >> 8)
                table[slice * 256 + i] = crc
            }
        }
        return table
    }()
}
