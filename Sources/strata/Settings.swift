import ArgumentParser
import Foundation
import Logging
import S3Server

/// Where `strata serve` takes each setting from, first match wins:
/// 1. the command-line flag (`--segment-size 64M`),
/// 2. the environment variable (`STRATA_SEGMENT_SIZE=64M`),
/// 3. the config file (`--config FILE` or `STRATA_CONFIG`; a line `segment-size = 64M`),
/// 4. the built-in default.
struct SettingSources {
    var flags: [String: String]
    var environment: [String: String]
    var file: [String: String]
    var fileName: String?

    /// `segment-size` → `STRATA_SEGMENT_SIZE`.
    static func environmentName(_ name: String) -> String {
        "STRATA_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// The value of `name` and where it came from, or nil if none of the sources sets it.
    func value(_ name: String) -> (value: String, source: String)? {
        if let v = flags[name] { return (v, "--\(name)") }
        if let v = environment[Self.environmentName(name)] { return (v, "$\(Self.environmentName(name))") }
        if let v = file[name] { return (v, "\(fileName ?? "config file"): \(name)") }
        return nil
    }

    func string(_ name: String, default fallback: String) -> String { value(name)?.value ?? fallback }

    func optionalString(_ name: String) -> String? {
        value(name).flatMap { $0.value.isEmpty ? nil : $0.value }
    }

    func parse<T>(_ name: String, default fallback: T, what: String, _ convert: (String) -> T?) throws -> T {
        guard let (text, source) = value(name) else { return fallback }
        guard let parsed = convert(text) else { throw ValidationError("\(source): \(text.debugDescription) is not \(what)") }
        return parsed
    }

    func bool(_ name: String, default fallback: Bool) throws -> Bool {
        try parse(name, default: fallback, what: "true or false") {
            switch $0.lowercased() {
            case "true", "yes", "on", "1": return true
            case "false", "no", "off", "0": return false
            default: return nil
            }
        }
    }

    /// Reads a config file: one `name = value` per line (the names of the flags without
    /// `--`); lines starting with `#` are comments; values may be quoted. Unknown names are
    /// an error, so a typo does not pass silently.
    static func readFile(_ path: String, known: Set<String>) throws -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("cannot read the config file \(path)")
        }
        var out: [String: String] = [:]
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ValidationError("\(path):\(number + 1): expected `name = value`")
            }
            guard known.contains(parts[0]) else {
                throw ValidationError("\(path):\(number + 1): unknown setting \(parts[0]) (known: \(known.sorted().joined(separator: ", ")))")
            }
            var value = parts[1]
            if value.count >= 2, let first = value.first, first == value.last, first == "\"" || first == "'" {
                value = String(value.dropFirst().dropLast())
            }
            out[parts[0]] = value
        }
        return out
    }
}

/// The logger of `strata serve`, and swift-log's default for every other label.
func makeLogger(format: LogFormat, level: Logger.Level) -> Logger {
    LoggingSystem.bootstrap { label in LineLogHandler(label: label, format: format, level: level) }
    var logger = Logger(label: "strata")
    logger.logLevel = level
    return logger
}
