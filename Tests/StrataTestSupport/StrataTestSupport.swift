import Foundation

/// A fresh temporary directory named after the test; the caller removes it.
public func makeTestDirectory(_ name: String = #function) -> String {
    let path = NSTemporaryDirectory() + "strata-test-\(name.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// `size` deterministic pseudo-random bytes (a linear congruential generator seeded by
/// `seed`): different seeds give different contents, the same seed the same.
public func pattern(_ seed: Int, _ size: Int) -> [UInt8] {
    var x = UInt64(truncatingIfNeeded: seed) &* 6364136223846793005 &+ 1442695040888963407
    return (0..<size).map { _ in
        x = x &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: x >> 33)
    }
}
