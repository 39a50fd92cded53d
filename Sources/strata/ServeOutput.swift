import Logging
import S3Server

/// What `strata serve` tells its operator on standard output besides the log: where it
/// listens, what recovery found, the banner, shutdown.
///
/// With `--log-format human` these are plain lines; with `json` each is one JSON object
/// like the log's lines (`ts`, `level`, `label`, `msg` and fields), so that every line of
/// the output parses as JSON.
struct ServeOutput: Sendable {
    let format: LogFormat

    /// Prints `text`; as JSON, the `json` message and fields if given, else one object
    /// per line of `text`.
    func say(_ text: String, json: (message: String, fields: Logger.Metadata)? = nil, level: Logger.Level = .info) {
        switch format {
        case .human:
            printNow(text)
        case .json:
            let objects: [(String, Logger.Metadata)] = json.map { [$0] }
                ?? text.split(separator: "\n").map { (String($0.drop { $0 == " " }), [:]) }
            for (message, fields) in objects {
                if let line = LineLogHandler.line(format: .json, level: level, label: "strata", message: message, fields: fields) {
                    StandardOutput.shared.write(line)
                }
            }
            StandardOutput.shared.flush()
        }
    }
}
