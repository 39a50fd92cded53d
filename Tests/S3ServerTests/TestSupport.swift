import Foundation
import NIOCore

/// A small deterministic generator (SplitMix64), so "random" splits are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Array where Element == UInt8 {
    /// Splits into consecutive pieces of random lengths in 1...maxPiece.
    func randomPieces(maxPiece: Int, using rng: inout SplitMix64) -> [[UInt8]] {
        var pieces: [[UInt8]] = []
        var index = 0
        while index < count {
            let n = Int.random(in: 1...maxPiece, using: &rng)
            let end = Swift.min(count, index + n)
            pieces.append(Array(self[index..<end]))
            index = end
        }
        return pieces
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

func hexString(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

