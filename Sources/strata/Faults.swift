import ArgumentParser
import Foundation
import NIOHTTP1
import S3Server

/// `strata faults add|list|remove|clear --server URL`: the fault rules of a running server
/// (`/_strata/faults`). Rules live in the server's memory only; `strata serve --faults FILE`
/// sets them at start.
struct Faults: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a running server fail chosen requests on purpose, to test clients' retries and error paths.",
        discussion: """
        A rule matches requests by S3 operation, bucket, key prefix and access key, fires \
        with a probability, a number of times or for a time, and answers an S3 error, adds \
        latency, caps bandwidth, resets the connection or cuts the response short. Faults \
        never change stored data: a faulted write stores nothing. Rules live in the \
        server's memory (strata serve --faults FILE sets some at start).
        """,
        subcommands: [Add.self, List.self, Remove.self, Clear.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a fault rule.",
            discussion: """
            Examples:
              strata faults add --server http://127.0.0.1:9000 --operation PutObject --error SlowDown --count 2
              strata faults add --server … --operation GetObject --reset-after-bytes 100000 --count 1
              strata faults add --server … --bucket slow --latency-ms 500 --bandwidth 64K
              strata faults add --server … --file rules.json
            """
        )

        @Option(name: .long, help: "An id for the rule (default: the next number).")
        var id: String?
        @Option(name: .long, help: "Match this S3 operation (PutObject, UploadPart, GetObject, …); repeatable. Default: every operation.")
        var operation: [String] = []
        @Option(name: .long, help: "Match requests to this bucket.")
        var bucket: String?
        @Option(name: .long, help: "Match keys starting with this.")
        var keyPrefix: String?
        @Option(name: .long, help: "Match requests signed with this access key (--access-key is the root key this command signs with).")
        var signedBy: String?
        @Option(name: .long, help: "Fire on this share of the matching requests (0 to 1). Default 1.")
        var probability: Double?
        @Option(name: .long, help: "Fire at most this many times.")
        var count: Int?
        @Option(name: .long, help: "Fire only for this many seconds from now.")
        var seconds: Double?
        @Option(name: .long, help: "Answer this S3 error code (SlowDown, InternalError, AccessDenied, …) instead of running the operation.")
        var error: String?
        @Option(name: .long, help: "With --error: the HTTP status (needed for a code Strata does not know).")
        var status: Int?
        @Option(name: .long, help: "With --error: the error message.")
        var message: String?
        @Option(name: .long, help: "Wait this many milliseconds before answering.")
        var latencyMs: Int?
        @Option(name: .long, help: "Move request and response bodies at most this fast, in bytes per second (e.g. 65536 or 64K).")
        var bandwidth: String?
        @Option(name: .long, help: "Reset the connection after this many bytes of the response body.")
        var resetAfterBytes: Int?
        @Option(name: .long, help: "Reset the connection after this many bytes of the request body arrived (the upload stores nothing).")
        var resetAfterRequestBytes: Int?
        @Option(name: .long, help: "Close the connection after this many bytes of the response body (fewer than Content-Length).")
        var truncateAfterBytes: Int?
        @Option(name: .long, help: "Add the rules of this JSON file (as PUT /_strata/faults takes) instead of the options above.")
        var file: String?

        @OptionGroup var admin: AdminOptions

        func validate() throws {
            if let bandwidth, parseByteSize(bandwidth) == nil {
                throw ValidationError("--bandwidth must be a byte count such as 65536 or 64K")
            }
            if file != nil, ruleGiven {
                throw ValidationError("--file adds the rules in the file; give either it or a rule's options")
            }
        }

        private var ruleGiven: Bool {
            id != nil || !operation.isEmpty || bucket != nil || keyPrefix != nil || signedBy != nil || probability != nil
                || count != nil || seconds != nil || error != nil || status != nil || message != nil || latencyMs != nil
                || bandwidth != nil || resetAfterBytes != nil || resetAfterRequestBytes != nil || truncateAfterBytes != nil
        }

        /// The rule the options describe, as JSON; the server checks it.
        private var ruleJSON: [UInt8] {
            var rule: [String: Any] = [:]
            if let id { rule["id"] = id }
            if !operation.isEmpty { rule["operation"] = operation }
            if let bucket { rule["bucket"] = bucket }
            if let keyPrefix { rule["keyPrefix"] = keyPrefix }
            if let signedBy { rule["accessKey"] = signedBy }
            if let probability { rule["probability"] = probability }
            if let count { rule["count"] = count }
            if let seconds { rule["seconds"] = seconds }
            if error != nil || status != nil || message != nil {
                var value: [String: Any] = [:]
                if let error { value["code"] = error }
                if let status { value["status"] = status }
                if let message { value["message"] = message }
                rule["error"] = value
            }
            if let latencyMs { rule["latencyMs"] = latencyMs }
            if let bandwidth = bandwidth.flatMap(parseByteSize) { rule["bandwidth"] = bandwidth }
            if let resetAfterBytes { rule["resetAfterBytes"] = resetAfterBytes }
            if let resetAfterRequestBytes { rule["resetAfterRequestBytes"] = resetAfterRequestBytes }
            if let truncateAfterBytes { rule["truncateAfterBytes"] = truncateAfterBytes }
            return Array((try? JSONSerialization.data(withJSONObject: rule, options: [.sortedKeys])) ?? Data())
        }

        func run() async throws {
            let body: [UInt8]
            if let file {
                guard let data = FileManager.default.contents(atPath: file) else {
                    printError("strata faults add: --file \(file): no such file")
                    throw ExitCode(2)
                }
                body = Array(data)
            } else {
                guard ruleGiven else {
                    printError("strata faults add: say what the rule does: --error CODE, --latency-ms, --bandwidth, --reset-after-bytes, --reset-after-request-bytes or --truncate-after-bytes (or --file)")
                    throw ExitCode(2)
                }
                body = ruleJSON
            }
            let answer = try await Faults.call(admin, command: "add", .POST, body: body)
            let added = Set(answer.added)
            for rule in answer.rules where added.contains(rule.id) {
                print("added fault rule \(rule.id): \(rule.summary)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the fault rules with how often each fired.")

        @OptionGroup var admin: AdminOptions

        @Flag(name: .long, help: "Print the server's JSON (GET /_strata/faults).")
        var json = false

        func run() async throws {
            if json {
                let bytes = try await Faults.send(admin, command: "list", .GET)
                print(String(decoding: bytes, as: UTF8.self))
                return
            }
            let answer = try await Faults.call(admin, command: "list", .GET)
            guard !answer.rules.isEmpty else {
                print("no fault rules")
                return
            }
            var rows = [["ID", "HITS", "MATCHED", "ACTIVE", "RULE"]]
            for rule in answer.rules {
                rows.append([rule.id, String(rule.hits), String(rule.matched), rule.active ? "yes" : "no", rule.summary])
            }
            print(table(rows, rightAligned: [1, 2]))
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove one fault rule.")

        @Argument(help: "The rule's id (strata faults list).")
        var id: String

        @OptionGroup var admin: AdminOptions

        func run() async throws {
            let path = "faults/" + (id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? id)
            _ = try await Faults.send(admin, command: "remove", .DELETE, path: path)
            print("removed fault rule \(id)")
        }
    }

    struct Clear: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove every fault rule.")

        @OptionGroup var admin: AdminOptions

        func run() async throws {
            _ = try await Faults.send(admin, command: "clear", .DELETE)
            print("cleared the fault rules")
        }
    }

    /// One rule as the server lists it, for printing.
    struct ListedRule: Decodable {
        struct InjectedError: Decodable {
            var code: String
            var status: Int
        }
        var id: String
        var operation: OneOrMany?
        var bucket: String?
        var keyPrefix: String?
        var accessKey: String?
        var probability: Double
        var count: Int?
        var seconds: Double?
        var error: InjectedError?
        var latencyMs: Int?
        var bandwidth: Int?
        var resetAfterBytes: Int?
        var resetAfterRequestBytes: Int?
        var truncateAfterBytes: Int?
        var hits: Int
        var matched: Int
        var active: Bool

        /// `operation` is a name or a list of names.
        struct OneOrMany: Decodable {
            var names: [String]
            init(from decoder: Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let names = try? container.decode([String].self) {
                    self.names = names
                } else {
                    names = [try container.decode(String.self)]
                }
            }
        }

        /// `PutObject in bucket b → 503 SlowDown, 2 times`.
        var summary: String {
            var match: [String] = [operation.map { $0.names.joined(separator: " or ") } ?? "any operation"]
            if let bucket { match.append("in bucket \(bucket)") }
            if let keyPrefix { match.append("keys \(keyPrefix)…") }
            if let accessKey { match.append("by \(accessKey)") }
            var actions: [String] = []
            if let latencyMs { actions.append("\(latencyMs) ms latency") }
            if let error { actions.append("\(error.status) \(error.code)") }
            if let bandwidth { actions.append("at most \(bandwidth) B/s") }
            if let resetAfterBytes { actions.append("reset after \(resetAfterBytes) response bytes") }
            if let resetAfterRequestBytes { actions.append("reset after \(resetAfterRequestBytes) request bytes") }
            if let truncateAfterBytes { actions.append("cut after \(truncateAfterBytes) response bytes") }
            var limits: [String] = []
            if probability < 1 { limits.append("probability \(probability)") }
            if let count { limits.append(count == 1 ? "once" : "\(count) times") }
            if let seconds { limits.append("for \(seconds) s") }
            return match.joined(separator: " ") + " → " + actions.joined(separator: ", ")
                + (limits.isEmpty ? "" : ", " + limits.joined(separator: ", "))
        }
    }

    struct Answer: Decodable {
        var rules: [ListedRule]
        var added: [String] = []

        enum CodingKeys: String, CodingKey { case rules, added }
        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            rules = try container.decode([ListedRule].self, forKey: .rules)
            added = try container.decodeIfPresent([String].self, forKey: .added) ?? []
        }
    }

    /// Sends a request to `/_strata/<path>` of `--server`, failing in plain words.
    static func send(_ admin: AdminOptions, command: String, _ method: HTTPMethod, path: String = "faults",
                     body: [UInt8] = []) async throws -> [UInt8] {
        guard let server = admin.server else {
            printError("strata faults \(command): give --server URL: fault rules live in a running strata serve")
            throw ExitCode(2)
        }
        do {
            return try await admin.client(for: server).send(method, "/_strata/" + path, body: body)
        } catch let failure as AdminClient.Failure {
            printError("strata faults \(command): \(failure)")
            throw ExitCode(1)
        }
    }

    static func call(_ admin: AdminOptions, command: String, _ method: HTTPMethod, body: [UInt8] = []) async throws -> Answer {
        let bytes = try await send(admin, command: command, method, body: body)
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(bytes))
        } catch {
            printError("strata faults \(command): the server's answer is not a fault rule list: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
            throw ExitCode(1)
        }
    }
}
