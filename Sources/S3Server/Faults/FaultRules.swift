import Foundation
import Synchronization

/// Fault injection for people testing their S3 clients: rules that make chosen requests
/// fail on purpose (an S3 error, latency, a bandwidth cap, a connection reset, a response
/// cut short), set with `PUT /_strata/faults`, `--faults FILE` or `strata faults add`.
/// Never on by default: with no rules a request costs one atomic load here.
///
/// A rule acts before the operation runs or on the bytes of its request and response,
/// never on what the store does: a faulted write whose request fails stores nothing (the
/// error is answered before the operation starts; a reset or a cut request body fails
/// the upload before its commit, like a client that goes away), and a faulted read sends
/// fewer bytes or slower bytes, never different ones.
///
/// The JSON of a rule (every field optional but one action):
///
/// ```json
/// {"id": "slow-puts",
///  "operation": "PutObject" or ["PutObject", "UploadPart"], "bucket": "b", "keyPrefix": "logs/", "accessKey": "AKIA…",
///  "probability": 0.5, "count": 2, "seconds": 60,
///  "error": {"code": "SlowDown", "status": 503, "message": "…"},
///  "latencyMs": 200, "bandwidth": 65536,
///  "resetAfterBytes": 1000, "resetAfterRequestBytes": 1000, "truncateAfterBytes": 1000}
/// ```
public struct FaultRule: Sendable, Equatable {
    public var id: String
    /// S3 operation names (``S3Operation/name``); empty: every S3 operation.
    public var operations: [String] = []
    public var bucket: String?
    public var keyPrefix: String?
    public var accessKey: String?
    /// The chance that a matching request is faulted (0 to 1).
    public var probability: Double = 1
    /// Fire at most this many times.
    public var count: Int?
    /// Fire only for this many seconds after the rule was added.
    public var seconds: Double?

    /// What the rule does to a request it fires on.
    public var action: FaultAction

    /// An S3 error answered instead of running the operation.
    public struct InjectedError: Sendable, Equatable {
        public var code: String
        public var status: Int
        public var message: String
    }

    /// Parses and checks one rule of a JSON document; `position` (from 1) names it in
    /// messages when it has no id.
    init(json: Any, position: Int) throws {
        let label = "fault rule \(position)"
        guard let object = json as? [String: Any] else { throw FaultRuleError("\(label) is not a JSON object") }
        let known: Set<String> = ["id", "operation", "bucket", "keyPrefix", "accessKey", "probability", "count",
                                  "seconds", "error", "latencyMs", "bandwidth", "resetAfterBytes",
                                  "resetAfterRequestBytes", "truncateAfterBytes",
                                  // What a listing adds: a listed rule can be sent back as it is.
                                  "hits", "matched", "active", "addedAt"]
        for name in object.keys.sorted() where !known.contains(name) {
            throw FaultRuleError("\(label): unknown field \"\(name)\" (fields: \(known.subtracting(["hits", "matched", "active", "addedAt"]).sorted().joined(separator: ", ")))")
        }
        func string(_ name: String) throws -> String? {
            guard let value = object[name], !(value is NSNull) else { return nil }
            guard let text = value as? String, !text.isEmpty else { throw FaultRuleError("\(label): \(name) must be a non-empty string") }
            return text
        }
        func number(_ name: String) throws -> Double? {
            guard let value = object[name], !(value is NSNull) else { return nil }
            guard let number = value as? NSNumber, !Self.isBoolean(number), number.doubleValue.isFinite, number.doubleValue >= 0 else {
                throw FaultRuleError("\(label): \(name) must be a number of at least 0")
            }
            return number.doubleValue
        }
        func count(_ name: String) throws -> Int? {
            guard let value = try number(name) else { return nil }
            guard value == value.rounded(), value < Double(Int64.max) else { throw FaultRuleError("\(label): \(name) must be a whole number") }
            return Int(value)
        }

        id = try string("id") ?? ""
        let subject = id.isEmpty ? label : "fault rule \"\(id)\""
        switch object["operation"] {
        case nil, is NSNull: operations = []
        case let name as String: operations = [name]
        case let names as [Any]:
            operations = try names.map {
                guard let name = $0 as? String else { throw FaultRuleError("\(subject): operation must be a name or a list of names") }
                return name
            }
        default: throw FaultRuleError("\(subject): operation must be a name or a list of names")
        }
        for name in operations where !S3Operation.s3Names.contains(name) {
            let lower = name.lowercased()
            let near = S3Operation.s3Names.filter {
                $0.lowercased() == lower || $0.lowercased().hasPrefix(lower) || lower.hasPrefix($0.lowercased())
            }.sorted()
            throw FaultRuleError("\(subject): \"\(name)\" is not an S3 operation name\(near.isEmpty ? " (PutObject, GetObject, UploadPart, …)" : "; did you mean \(near.prefix(3).joined(separator: " or "))?")")
        }
        bucket = try string("bucket")
        keyPrefix = try string("keyPrefix")
        accessKey = try string("accessKey")
        probability = try number("probability") ?? 1
        guard probability <= 1 else { throw FaultRuleError("\(subject): probability must be from 0 to 1") }
        self.count = try count("count")
        seconds = try number("seconds")

        var action = FaultAction()
        if let value = object["error"], !(value is NSNull) {
            action.error = try Self.error(value, subject)
        }
        action.latencyMilliseconds = try count("latencyMs")
        action.bytesPerSecond = try count("bandwidth")
        if action.bytesPerSecond == 0 { throw FaultRuleError("\(subject): bandwidth must be at least 1 byte per second") }
        action.resetAfterBytes = try count("resetAfterBytes")
        action.resetAfterRequestBytes = try count("resetAfterRequestBytes")
        action.truncateAfterBytes = try count("truncateAfterBytes")
        guard !action.isEmpty else {
            throw FaultRuleError("\(subject) has no action: give error, latencyMs, bandwidth, resetAfterBytes, resetAfterRequestBytes or truncateAfterBytes")
        }
        if action.error != nil, action.bytesPerSecond != nil || action.resetAfterBytes != nil
            || action.resetAfterRequestBytes != nil || action.truncateAfterBytes != nil {
            throw FaultRuleError("\(subject): error answers at once; it combines only with latencyMs")
        }
        if action.resetAfterBytes != nil, action.truncateAfterBytes != nil {
            throw FaultRuleError("\(subject): resetAfterBytes and truncateAfterBytes both end the response; give one")
        }
        self.action = action
    }

    /// The `error` object: a code, and a status and message unless the code is one S3 has.
    private static func error(_ value: Any, _ subject: String) throws -> InjectedError {
        guard let object = value as? [String: Any] else { throw FaultRuleError("\(subject): error must be an object such as {\"code\": \"SlowDown\"}") }
        for name in object.keys.sorted() where !["code", "status", "message"].contains(name) {
            throw FaultRuleError("\(subject): unknown field \"error.\(name)\" (fields: code, status, message)")
        }
        guard let code = object["code"] as? String, !code.isEmpty,
              code.utf8.allSatisfy({ (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: "&") }) else {
            throw FaultRuleError("\(subject): error.code must be an S3 error code such as SlowDown")
        }
        let known = knownErrors[code]
        var status = known?.status ?? S3Error.status(ofCode: code)
        if let value = object["status"] {
            guard let number = value as? NSNumber, !isBoolean(number), let given = Int(exactly: number.doubleValue),
                  (400...599).contains(given) else {
                throw FaultRuleError("\(subject): error.status must be an HTTP error status from 400 to 599")
            }
            status = given
        }
        guard let status else {
            throw FaultRuleError("\(subject): error.code \(code) is not one Strata knows the status of; give error.status")
        }
        var message = known?.message ?? "This \(code) error was injected by a Strata fault rule."
        if let value = object["message"] {
            guard let text = value as? String else { throw FaultRuleError("\(subject): error.message must be a string") }
            message = text
        }
        return InjectedError(code: code, status: status, message: message)
    }

    /// Whether JSONSerialization made `number` of `true` or `false` (a Swift `is Bool`
    /// check also holds for the numbers 0 and 1).
    static func isBoolean(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    /// Errors people inject most, with AWS's status and message.
    static let knownErrors: [String: (status: Int, message: String)] = [
        "SlowDown": (503, "Please reduce your request rate."),
        "ServiceUnavailable": (503, "Please reduce your request rate."),
        "InternalError": (500, "We encountered an internal error. Please try again."),
        "AccessDenied": (403, "Access Denied"),
        "RequestTimeout": (400, "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed."),
        "RequestTimeTooSkewed": (403, "The difference between the request time and the current time is too large."),
        "ExpiredToken": (400, "The provided token has expired."),
        "InvalidAccessKeyId": (403, "The AWS Access Key Id you provided does not exist in our records."),
        "NoSuchKey": (404, "The specified key does not exist."),
        "NoSuchBucket": (404, "The specified bucket does not exist"),
        "OperationAborted": (409, "A conflicting conditional operation is currently in progress against this resource. Try again."),
        "PreconditionFailed": (412, "At least one of the pre-conditions you specified did not hold"),
        "NotImplemented": (501, "A header you provided implies functionality that is not implemented"),
    ]

    /// Whether the rule is about this request (its probability, count and window aside).
    func matches(operation: String, bucket: String?, key: String?, accessKey: String?) -> Bool {
        if !operations.isEmpty, !operations.contains(operation) { return false }
        if let wanted = self.bucket, wanted != bucket { return false }
        if let prefix = keyPrefix, !(key ?? "").hasPrefix(prefix) { return false }
        if let wanted = self.accessKey, wanted != accessKey { return false }
        return true
    }
}

/// What a fired rule does; several parts can be combined (an error only with latency).
public struct FaultAction: Sendable, Equatable {
    /// Answer this error instead of running the operation.
    public var error: FaultRule.InjectedError?
    /// Wait this long before running the operation (or answering the error).
    public var latencyMilliseconds: Int?
    /// Read the request body and send the response body at most this fast.
    public var bytesPerSecond: Int?
    /// Reset the connection (TCP RST) after this many bytes of the response body.
    public var resetAfterBytes: Int?
    /// Reset the connection after this many bytes of the request body have arrived; the
    /// operation fails like one whose client went away, so an upload stores nothing.
    public var resetAfterRequestBytes: Int?
    /// Close the connection (cleanly) after this many bytes of the response body: the
    /// client gets fewer bytes than Content-Length said.
    public var truncateAfterBytes: Int?

    var isEmpty: Bool {
        error == nil && latencyMilliseconds == nil && bytesPerSecond == nil && resetAfterBytes == nil
            && resetAfterRequestBytes == nil && truncateAfterBytes == nil
    }

    /// What the response writer has to do, if anything.
    var responseShaping: BodyShaping? {
        guard bytesPerSecond != nil || resetAfterBytes != nil || truncateAfterBytes != nil else { return nil }
        return BodyShaping(bytesPerSecond: bytesPerSecond,
                               endAfterBytes: resetAfterBytes ?? truncateAfterBytes,
                               reset: resetAfterBytes != nil)
    }

    /// What the request body reader has to do, if anything.
    var requestShaping: BodyShaping? {
        guard bytesPerSecond != nil || resetAfterRequestBytes != nil else { return nil }
        return BodyShaping(bytesPerSecond: bytesPerSecond, endAfterBytes: resetAfterRequestBytes, reset: true)
    }
}

/// How one body is slowed or ended by a fault: at most `bytesPerSecond`, and after
/// `endAfterBytes` bytes the connection ends (reset, or closed cleanly).
struct BodyShaping: Sendable, Equatable {
    var bytesPerSecond: Int?
    var endAfterBytes: Int?
    var reset: Bool

    /// Sleeps as long as sending `sent` bytes since `start` must take at this rate.
    func pace(sent: Int, since start: ContinuousClock.Instant) async throws {
        guard let bytesPerSecond else { return }
        let due = start + .nanoseconds(Int64(Double(sent) / Double(bytesPerSecond) * 1e9))
        if due > .now { try await Task.sleep(until: due, clock: .continuous) }
    }
}

/// A rule that fired on a request: its id (for the access log) and what it does.
struct FiredFault: Sendable {
    let id: String
    let action: FaultAction
}

/// A rule set that failed its checks; the message names the rule and the field.
public struct FaultRuleError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The server's fault rules, their hit counts, and the choice per request.
public final class FaultRules: Sendable {
    private struct Entry {
        var rule: FaultRule
        var added: ContinuousClock.Instant
        var addedAt: Date
        var hits = 0
        var matched = 0

        func isActive(at now: ContinuousClock.Instant) -> Bool {
            if let count = rule.count, hits >= count { return false }
            if let seconds = rule.seconds, now - added >= .nanoseconds(Int64(seconds * 1e9)) { return false }
            return true
        }
    }

    private let entries = Mutex<(list: [Entry], nextId: Int)>(([], 1))
    /// How many rules there are: the request path's check, without the lock.
    private let count = Atomic<Int>(0)

    public init() {}

    /// Parses a rule document: `{"rules": [...]}`, a list of rules, or one rule.
    public static func parse(_ json: [UInt8]) throws -> [FaultRule] {
        let document: Any
        do {
            document = try JSONSerialization.jsonObject(with: Data(json), options: [.fragmentsAllowed])
        } catch {
            throw FaultRuleError("the fault rules are not valid JSON (\(error.localizedDescription))")
        }
        let list: [Any]
        switch document {
        case let object as [String: Any] where object["rules"] != nil:
            guard object.count == 1, let rules = object["rules"] as? [Any] else {
                throw FaultRuleError("a fault rule document is {\"rules\": [rule, …]}, a list of rules or one rule")
            }
            list = rules
        case let rules as [Any]: list = rules
        case let object as [String: Any]: list = [object]
        default: throw FaultRuleError("a fault rule document is {\"rules\": [rule, …]}, a list of rules or one rule")
        }
        let rules = try list.enumerated().map { try FaultRule(json: $1, position: $0 + 1) }
        var ids = Set<String>()
        for rule in rules where !rule.id.isEmpty {
            guard ids.insert(rule.id).inserted else { throw FaultRuleError("two fault rules have the id \"\(rule.id)\"") }
        }
        return rules
    }

    /// Adds `rules` after the present ones (`replacing`: instead of them); rules without
    /// an id get the next number. Returns the rules as stored.
    @discardableResult
    public func add(_ rules: [FaultRule], replacing: Bool = false) throws -> [FaultRule] {
        let now = ContinuousClock.now, date = Date()
        return try entries.withLock { state in
            var list = replacing ? [] : state.list
            var added: [FaultRule] = []
            for var rule in rules {
                if rule.id.isEmpty {
                    while list.contains(where: { $0.rule.id == String(state.nextId) }) || rules.contains(where: { $0.id == String(state.nextId) }) {
                        state.nextId += 1
                    }
                    rule.id = String(state.nextId)
                    state.nextId += 1
                } else if list.contains(where: { $0.rule.id == rule.id }) {
                    throw FaultRuleError("a fault rule with the id \"\(rule.id)\" exists; delete it first or replace all rules with PUT")
                }
                list.append(Entry(rule: rule, added: now, addedAt: date))
                added.append(rule)
            }
            state.list = list
            count.store(list.count, ordering: .releasing)
            return added
        }
    }

    /// Removes every rule; returns how many there were.
    @discardableResult
    public func clear() -> Int {
        entries.withLock { state in
            let removed = state.list.count
            state.list = []
            count.store(0, ordering: .releasing)
            return removed
        }
    }

    /// Removes the rule `id`; false if there is none.
    public func remove(id: String) -> Bool {
        entries.withLock { state in
            guard let index = state.list.firstIndex(where: { $0.rule.id == id }) else { return false }
            state.list.remove(at: index)
            count.store(state.list.count, ordering: .releasing)
            return true
        }
    }

    /// Whether there is any rule (the request path's first check: one atomic load).
    var isEmpty: Bool { count.load(ordering: .acquiring) == 0 }

    /// The first active rule that matches the request and whose probability draw
    /// succeeds, counted as a hit; nil for most requests.
    func fire(operation: String, bucket: String?, key: String?, accessKey: String?) -> FiredFault? {
        guard count.load(ordering: .acquiring) > 0 else { return nil }
        let now = ContinuousClock.now
        return entries.withLock { state in
            for index in state.list.indices {
                let entry = state.list[index]
                guard entry.isActive(at: now),
                      entry.rule.matches(operation: operation, bucket: bucket, key: key, accessKey: accessKey) else { continue }
                state.list[index].matched += 1
                guard entry.rule.probability >= 1 || Double.random(in: 0..<1) < entry.rule.probability else { continue }
                state.list[index].hits += 1
                return FiredFault(id: entry.rule.id, action: entry.rule.action)
            }
            return nil
        }
    }

    /// The rules as JSON, `{"rules": [...]}`, each with `hits` (times it fired), `matched`
    /// (requests it matched, also those its probability spared), `active` (false once its
    /// count or window is used up) and `addedAt`.
    public func listJSON() -> [UInt8] {
        let now = ContinuousClock.now
        let rules: [[String: Any]] = entries.withLock { state in
            state.list.map { entry in
                var object = entry.rule.json
                object["hits"] = entry.hits
                object["matched"] = entry.matched
                object["active"] = entry.isActive(at: now)
                object["addedAt"] = TimeFormat.iso8601(milliseconds: Int64(entry.addedAt.timeIntervalSince1970 * 1000))
                return object
            }
        }
        return Self.encode(["rules": rules])
    }

    static func encode(_ object: Any) -> [UInt8] {
        // Sorted keys: stable for tests and diffs.
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Array(data)
    }
}

extension FaultRule {
    /// The rule as its JSON document (what ``init(json:position:)`` reads).
    var json: [String: Any] {
        var object: [String: Any] = ["id": id, "probability": probability]
        if !operations.isEmpty { object["operation"] = operations.count == 1 ? operations[0] as Any : operations as Any }
        if let bucket { object["bucket"] = bucket }
        if let keyPrefix { object["keyPrefix"] = keyPrefix }
        if let accessKey { object["accessKey"] = accessKey }
        if let count { object["count"] = count }
        if let seconds { object["seconds"] = seconds }
        if let error = action.error { object["error"] = ["code": error.code, "status": error.status, "message": error.message] }
        if let value = action.latencyMilliseconds { object["latencyMs"] = value }
        if let value = action.bytesPerSecond { object["bandwidth"] = value }
        if let value = action.resetAfterBytes { object["resetAfterBytes"] = value }
        if let value = action.resetAfterRequestBytes { object["resetAfterRequestBytes"] = value }
        if let value = action.truncateAfterBytes { object["truncateAfterBytes"] = value }
        return object
    }
}
