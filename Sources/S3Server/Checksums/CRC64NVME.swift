/// CRC-64/NVME: reflected polynomial 0x9A6C9329AC4BC9B5 (0xAD93D23594C93659 unreflected),
/// initial value and final XOR all ones. Used by S3 for `x-amz-checksum-crc64nvme`, and
/// the only algorithm S3 combines into a FULL_OBJECT checksum for multipart uploads.
///
/// Computed with slicing-by-8 tables.
struct CRC64NVME: Sendable {
    /// The running register, before the final XOR.
    private var state: UInt64 = ~0

    init() {}

    /// Feeds more bytes.
    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var crc = state
        var index = 0
        let count = bytes.count
        CRC64NVME.table.withUnsafeBufferPointer { t in
            while count - index >= 8 {
                var word: UInt64 = 0
                for k in 0..<8 { word |= UInt64(bytes[index + k]) << (8 * UInt64(k)) }
                let x = crc ^ word
                crc = t[7 * 256 + Int(x & 0xFF)] ^ t[6 * 256 + Int((x >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((x >> 16) & 0xFF)] ^ t[4 * 256 + Int((x >> 24) & 0xFF)]
                    ^ t[3 * 256 + Int((x >> 32) & 0xFF)] ^ t[2 * 256 + Int((x >> 40) & 0xFF)]
                    ^ t[1 * 256 + Int((x >> 48) & 0xFF)] ^ t[Int(x >> 56)]
                index += 8
            }
            while index < count {
                crc = t[Int((crc ^ UInt64(bytes[index])) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
        }
        state = crc
    }

    /// The checksum of everything fed so far.
    var value: UInt64 { ~state }

    /// One-shot convenience.
    static func checksum(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var crc = CRC64NVME()
        let array = Array(bytes)
        array.withUnsafeBytes { crc.update($0) }
        return crc.value
    }

    /// Eight 256-entry tables laid out one after another.
    static let table: [UInt64] = {
        let polynomial: UInt64 = 0x9A6C_9329_AC4B_C9B5
        var table = [UInt64](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var crc = UInt64(i)
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
