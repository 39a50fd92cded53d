import Foundation
import Logging

/// How `strata serve` writes its log.
public enum LogFormat: String, Sendable {
    /// `2026-11-22T06:01:39.123Z info GET /bkt/key 200 …  key=value …`
    case human
    /// One JSON object per line: `ts`, `level`, `label`, `msg` and the metadata as fields.
    case json
}

/// A swift-log handler writing one line per message to a stream (stdout by default),
/// human-readable or as JSON lines. Lines are written whole under a lock, so lines from
/// concurrent requests never interleave.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let format: LogFormat
    let sink: LineSink

    public init(label: String, format: LogFormat, level: Logger.Level, sink: LineSink = .standardOutput) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        let time = Self.timestamp()
        switch format {
        case .human:
            // Control characters (a key with a newline) are escaped: one event, one line.
            var line = "\(time) \(event.level) \(Self.escaped("\(event.message)"))"
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) { line += " \(key)=\(Self.escaped("\(value)"))" }
            sink.write(line)
        case .json:
            var object: [String: Any] = ["ts": time, "level": "\(event.level)", "label": label, "msg": "\(event.message)"]
            for (key, value) in fields { object[key] = Self.json(value) }
            guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            else { return }
            sink.write(String(decoding: data, as: UTF8.self))
        }
    }

    private static func json(_ value: Logger.MetadataValue) -> Any {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c):
            if let n = c as? any BinaryInteger { return Int64(n) }
            if let d = c as? Double { return d }
            return "\(c)"
        case .array(let a): return a.map(json)
        case .dictionary(let d): return d.mapValues(json)
        }
    }

    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        return text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? $0.escaped(asASCII: true) : String($0) }.joined()
    }

    /// ISO 8601 in UTC with milliseconds.
    static func timestamp() -> String {
        TimeFormat.iso8601(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
    }
}

/// Where log lines go: standard output, or a closure (tests).
public struct LineSink: Sendable {
    let write: @Sendable (String) -> Void

    public init(_ write: @escaping @Sendable (String) -> Void) { self.write = write }

    func write(_ line: String) { write(line) }

    private static let lock = NSLock()

    public static let standardOutput = LineSink { line in
        let bytes = Data((line + "\n").utf8)
        lock.withLock { FileHandle.standardOutput.write(bytes) }
    }
}
