import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

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
        // (The access log writes a line per request: no merge when there is nothing to
        // merge, no interpolation of each value; together a twentieth of a 4 KiB GET.)
        var fields = event.metadata ?? [:]
        if !metadata.isEmpty { fields = metadata.merging(fields) { $1 } }
        if let line = Self.line(format: format, level: event.level, label: label, message: event.message.description,
                                fields: fields) {
            sink.write(line)
        }
    }

    /// One log line as this handler writes it, without a trailing newline; nil if the
    /// fields cannot be written as JSON. `strata serve` writes its banner with it, so that
    /// with `--log-format json` every line of its output is a JSON object.
    public static func line(format: LogFormat, level: Logger.Level, label: String, message: String,
                            fields: Logger.Metadata) -> String? {
        let time = Self.timestamp()
        switch format {
        case .human:
            // Control characters (a key with a newline) are escaped: one event, one line.
            var line = ""
            line.reserveCapacity(256)
            line += time
            line += " "
            line += level.rawValue
            line += " "
            line += Self.escaped(message)
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
                line += " "
                line += key
                line += "="
                line += Self.escaped(Self.text(value))
            }
            return line
        case .json:
            var object: [String: Any] = ["ts": time, "level": "\(level)", "label": label, "msg": message]
            for (key, value) in fields { object[key] = Self.json(value) }
            guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            else { return nil }
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// A value as `"\(value)"` writes it, without the interpolation for the common cases.
    private static func text(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        default: return "\(value)"
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
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return text }
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

    public static let standardOutput = LineSink { line in StandardOutput.shared.write(line) }
}

/// The process's standard output, written by a thread of its own: a request appends its
/// log line to a buffer and goes on; the writer thread writes whatever has gathered in
/// one `write`. The profile of a 4 KiB GET showed the access log's `write` system call,
/// made under a lock on the event loop, as one of the larger costs per request.
///
/// The writer thread is woken only when a line lands in an empty buffer, and then waits
/// ``gatherInterval`` before it writes, so lines arriving meanwhile go out in the same
/// `write`: waking it for every line (a futex wake and a context switch per request)
/// cost a quarter of the 4 KiB GET rate on two cores. A line is therefore out at most
/// ``gatherInterval`` after it was queued.
///
/// Lines keep their order and are never interleaved. ``flush()`` returns once everything
/// written before it is out (used for the lines a parent process waits for, and at exit).
/// When the reader of the output falls behind by more than ``limit`` bytes, writers wait,
/// as they did when they wrote themselves, so memory stays bounded.
public final class StandardOutput: @unchecked Sendable {
    public static let shared = StandardOutput(descriptor: 1)

    private let descriptor: Int32
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var pending: [UInt8] = []
    private var writing = false
    private var flushing = 0
    private var thread: Thread?

    /// Bytes allowed to wait for the writer thread before writers block.
    static let limit = 4 << 20
    /// How long the writer gathers lines after the first one woke it.
    static let gatherInterval: TimeInterval = 0.005

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Queues `line` and a newline.
    public func write(_ line: String) {
        condition.lock()
        defer { condition.unlock() }
        while pending.count > Self.limit { condition.wait() }
        let wasEmpty = pending.isEmpty
        pending.append(contentsOf: line.utf8)
        pending.append(UInt8(ascii: "\n"))
        if thread == nil {
            let thread = Thread { [unowned self] in self.run() }
            thread.name = "strata-stdout"
            self.thread = thread
            thread.start()
        }
        // Only the first line of a batch wakes the writer (and a full buffer, which must
        // not wait for the gathering to end).
        if wasEmpty || pending.count > Self.limit { condition.broadcast() }
    }

    /// Returns once every line queued before the call has been written.
    public func flush() {
        condition.lock()
        defer { condition.unlock() }
        flushing += 1
        defer { flushing -= 1 }
        condition.broadcast()
        while !pending.isEmpty || writing { condition.wait() }
    }

    private func run() {
        var batch: [UInt8] = []
        while true {
            condition.lock()
            while pending.isEmpty { condition.wait() }
            // Gather: later lines join this batch (a flush or a full buffer cuts it short).
            let until = Date(timeIntervalSinceNow: Self.gatherInterval)
            while flushing == 0 && pending.count <= Self.limit && condition.wait(until: until) {}
            swap(&batch, &pending)
            writing = true
            condition.broadcast()  // writers waiting for room
            condition.unlock()

            var done = 0
            while done < batch.count {
                let n = batch.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + done, $0.count - done) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }  // output closed: the lines are dropped, as a failed write dropped them before
                done += n
            }
            batch.removeAll(keepingCapacity: batch.capacity <= Self.limit)

            condition.lock()
            writing = false
            condition.broadcast()
            condition.unlock()
        }
    }
}
