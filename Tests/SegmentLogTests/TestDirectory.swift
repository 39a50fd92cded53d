import Foundation

/// A fresh temporary directory, removed when the test ends.
func makeTestDirectory(_ name: String = #function) -> String {
    let path = NSTemporaryDirectory() + "strata-test-\(name.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
