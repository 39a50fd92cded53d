import Foundation

/// A bucket policy (PutBucketPolicy): the core of the IAM policy language as S3 applies
/// it to one bucket: Effect, Principal / NotPrincipal, Action / NotAction (with `*` and
/// `?` wildcards), Resource / NotResource ARNs (wildcards and `${aws:username}`-style
/// variables), and Condition blocks with the string, numeric, date, Bool, IP address,
/// ARN and Null operators, their `…IfExists` forms and `ForAnyValue:` / `ForAllValues:`.
///
/// Evaluation follows IAM: an explicit Deny wins, then an Allow; a key the request does
/// not have makes a positive operator false and a negated one (`StringNotEquals`,
/// `NotIpAddress`, …) true, so a Deny on `aws:SecureTransport` = false also catches
/// requests that lack the key.
struct BucketPolicy: Sendable {
    enum Effect: String, Sendable { case allow = "Allow", deny = "Deny" }

    /// Who a statement is about.
    struct PrincipalSet: Sendable {
        /// `"*"` or `{"AWS": "*"}`: everyone, anonymous callers included.
        var everyone = false
        /// Canonical ids (`{"CanonicalUser": …}`, and users named by ARN, resolved when parsed).
        var canonicalIds: Set<String> = []
        /// Account ids (`arn:aws:iam::ACCOUNT:root` or the bare id): every user of the account.
        var accountIds: Set<String> = []

        func contains(_ principal: Principal) -> Bool {
            everyone || (!principal.isAnonymous
                         && (canonicalIds.contains(principal.canonicalId) || accountIds.contains(principal.accountId)))
        }
    }

    struct Condition: Sendable {
        var operator_: String
        var key: String
        var values: [String]
        var ifExists: Bool
        /// `ForAnyValue` / `ForAllValues`, or nil.
        var qualifier: String?
    }

    struct Statement: Sendable {
        var sid: String?
        var effect: Effect
        var principals: PrincipalSet
        var notPrincipal: Bool
        var actions: [String]
        var notAction: Bool
        var resources: [String]
        var notResource: Bool
        var conditions: [Condition]
    }

    var statements: [Statement]

    /// Whether a condition names an object's existing tags (`s3:ExistingObjectTag/KEY`):
    /// then the object step of an authorization evaluates the policy again with them.
    var usesExistingObjectTags: Bool {
        statements.contains { $0.conditions.contains { $0.key.hasPrefix("s3:existingobjecttag/") } }
    }

    /// The largest policy S3 accepts: 20 KB.
    static let maxSize = 20 * 1024

    enum Decision: Sendable, Equatable { case allow, deny, none }

    /// What the statements say about `principal` doing `action` (`s3:GetObject`) on
    /// `resource` (`arn:aws:s3:::bucket/key`), given the request's condition keys
    /// (lowercased names).
    func evaluate(principal: Principal, action: String, resource: String, keys: [String: [String]]) -> Decision {
        var allowed = false
        for statement in statements where statement.applies(principal: principal, action: action, resource: resource, keys: keys) {
            if statement.effect == .deny { return .deny }
            allowed = true
        }
        return allowed ? .allow : .none
    }

    /// Whether the policy grants anything to everyone without a condition that pins the
    /// caller down (GetBucketPolicyStatus, Block Public Access). Conditions on the keys
    /// S3 treats as non-public (source IPs, VPCs, accounts, organisations) make a
    /// statement non-public.
    var isPublic: Bool {
        statements.contains { $0.isPublic }
    }

    // MARK: - Parsing

    /// Parses and validates a policy for `bucket` as S3 does (MalformedPolicy).
    /// `strict: false` (loading a stored policy) lets principals that no longer exist
    /// match nobody instead of failing.
    static func parse(_ bytes: [UInt8], bucket: String, users: UserDirectory, strict: Bool = true) throws -> BucketPolicy {
        guard bytes.count <= maxSize else { throw S3Error.malformedPolicy("Policies must be at most 20 KB") }
        guard let json = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)), case .object(let root) = json else {
            throw S3Error.malformedPolicy("Policies must be valid JSON and the first byte must be '{'")
        }
        for name in root.keys where !["Version", "Id", "Statement"].contains(name) {
            throw S3Error.malformedPolicy("Unknown field \(name)")
        }
        if let version = root["Version"] {
            guard case .string(let text) = version, ["2012-10-17", "2008-10-17"].contains(text) else {
                throw S3Error.malformedPolicy("Invalid policy version")
            }
        }
        let statementValues: [JSONValue]
        switch root["Statement"] {
        case .array(let list)?: statementValues = list
        case .object(let one)?: statementValues = [.object(one)]
        default: throw S3Error.malformedPolicy("Missing required field Statement")
        }
        guard !statementValues.isEmpty else { throw S3Error.malformedPolicy("Missing required field Statement") }
        var statements: [Statement] = []
        var sids: Set<String> = []
        for value in statementValues {
            guard case .object(let object) = value else { throw S3Error.malformedPolicy("Statement is not an object") }
            let statement = try parseStatement(object, bucket: bucket, users: users, strict: strict)
            if let sid = statement.sid {
                guard sids.insert(sid).inserted else { throw S3Error.malformedPolicy("Statement IDs (SID) must be unique") }
            }
            statements.append(statement)
        }
        return BucketPolicy(statements: statements)
    }

    private static let statementFields: Set<String> = [
        "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition",
    ]

    private static func parseStatement(_ object: [String: JSONValue], bucket: String, users: UserDirectory,
                                       strict: Bool) throws -> Statement {
        for name in object.keys where !statementFields.contains(name) {
            throw S3Error.malformedPolicy("Unknown field \(name)")
        }
        var sid: String?
        if case .string(let text)? = object["Sid"] { sid = text }
        guard case .string(let effectText)? = object["Effect"] else { throw S3Error.malformedPolicy("Missing required field Effect") }
        guard let effect = Effect(rawValue: effectText) else { throw S3Error.malformedPolicy("Invalid effect: \(effectText)") }

        guard (object["Principal"] == nil) != (object["NotPrincipal"] == nil) else {
            throw S3Error.malformedPolicy("Missing required field Principal")
        }
        let notPrincipal = object["NotPrincipal"] != nil
        let principals = try parsePrincipal(object["Principal"] ?? object["NotPrincipal"]!, users: users, strict: strict)

        guard (object["Action"] == nil) != (object["NotAction"] == nil) else {
            throw S3Error.malformedPolicy("Missing required field Action")
        }
        let notAction = object["NotAction"] != nil
        let actions = try stringList(object["Action"] ?? object["NotAction"]!, field: "Action")
        for action in actions {
            let lowered = action.lowercased()
            guard lowered == "*" || (lowered.hasPrefix("s3:") && S3Actions.all.contains { Wildcard.matches(lowered, $0.lowercased()) }) else {
                throw S3Error.malformedPolicy("Policy has invalid action")
            }
        }

        guard (object["Resource"] == nil) != (object["NotResource"] == nil) else {
            throw S3Error.malformedPolicy("Missing required field Resource")
        }
        let notResource = object["NotResource"] != nil
        let resources = try stringList(object["Resource"] ?? object["NotResource"]!, field: "Resource")
        for resource in resources {
            guard resource == "*" || resource.hasPrefix("arn:aws:s3:::") else { throw S3Error.malformedPolicy("Policy has invalid resource") }
            let path = resource == "*" ? "*" : String(resource.dropFirst("arn:aws:s3:::".count))
            let bucketPart = String(path.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            guard Wildcard.matches(bucketPart, bucket) || bucketPart.contains("${") else {
                throw S3Error.malformedPolicy("Policy has invalid resource")
            }
        }
        if !notAction && !notResource {
            // S3 refuses a statement none of whose actions can apply to any of its resources:
            // bucket actions need the bucket's ARN, object actions an object ARN.
            let applies = actions.contains { action in
                resources.contains { resource in
                    let path = resource.dropFirst("arn:aws:s3:::".count)
                    // `arn:aws:s3:::b*` may name objects too (b/key); `b/…` never names a bucket.
                    let isObjectResource = resource == "*" || path.contains("/") || path.hasSuffix("*")
                    let isBucketResource = resource == "*" || !path.contains("/")
                    return S3Actions.all.contains { known in
                        Wildcard.matches(action.lowercased(), known.lowercased())
                            && (S3Actions.objectLevel.contains(known) ? isObjectResource : isBucketResource)
                    }
                }
            }
            guard applies else { throw S3Error.malformedPolicy("Action does not apply to any resource(s) in statement") }
        }

        var conditions: [Condition] = []
        if let block = object["Condition"] {
            guard case .object(let operators) = block else { throw S3Error.malformedPolicy("Invalid Condition block") }
            for (rawOperator, entries) in operators {
                var name = rawOperator
                var qualifier: String?
                for prefix in ["ForAnyValue:", "ForAllValues:"] where name.hasPrefix(prefix) {
                    qualifier = String(prefix.dropLast())
                    name = String(name.dropFirst(prefix.count))
                }
                var ifExists = false
                if name.hasSuffix("IfExists") && name != "Null" {
                    ifExists = true
                    name = String(name.dropLast("IfExists".count))
                }
                guard ConditionOperators.known.contains(name) else {
                    throw S3Error.malformedPolicy("Invalid Condition type : \(rawOperator)")
                }
                guard case .object(let pairs) = entries else { throw S3Error.malformedPolicy("Invalid Condition block") }
                for (key, values) in pairs {
                    guard ConditionKeys.isKnown(key) else {
                        throw S3Error.malformedPolicy("Policy has an invalid condition key")
                    }
                    conditions.append(Condition(operator_: name, key: key.lowercased(),
                                                values: try stringList(values, field: "Condition", allowScalars: true),
                                                ifExists: ifExists, qualifier: qualifier))
                }
            }
        }
        return Statement(sid: sid, effect: effect, principals: principals, notPrincipal: notPrincipal, actions: actions,
                         notAction: notAction, resources: resources, notResource: notResource, conditions: conditions)
    }

    /// `"*"`, `{"AWS": "*" | ARN | account id | [...]}` or `{"CanonicalUser": id | [id…]}`.
    /// An account, as IAM names it (`arn:aws:iam::123456789012:root` or `123456789012`),
    /// means every user of that account. A user is named by ARN as
    /// `arn:aws:iam::ACCOUNT:user/DISPLAY_NAME`; its account part is not checked, so
    /// policies written before users had accounts (`000000000000`) keep working.
    private static func parsePrincipal(_ value: JSONValue, users: UserDirectory, strict: Bool) throws -> PrincipalSet {
        var set = PrincipalSet()
        if case .string(let text) = value {
            guard text == "*" else { throw S3Error.malformedPolicy("Invalid principal in policy") }
            set.everyone = true
            return set
        }
        guard case .object(let object) = value, !object.isEmpty else {
            throw S3Error.malformedPolicy("Invalid principal in policy")
        }
        for (type, names) in object {
            for name in try stringList(names, field: "Principal") {
                switch type {
                case "AWS":
                    if name == "*" { set.everyone = true; continue }
                    if let account = accountPrincipal(name) {
                        // As AWS refuses an account that does not exist.
                        if strict && !users.hasAccount(account) { throw S3Error.malformedPolicy("Invalid principal in policy") }
                        set.accountIds.insert(account)
                        continue
                    }
                    guard let user = users.principals.first(where: { name.hasPrefix("arn:aws:iam::") && name.hasSuffix(":user/\($0.displayName)") })
                    else {
                        if strict { throw S3Error.malformedPolicy("Invalid principal in policy") }
                        continue
                    }
                    set.canonicalIds.insert(user.canonicalId)
                case "CanonicalUser":
                    if strict && users.principal(canonicalId: name) == nil { throw S3Error.malformedPolicy("Invalid principal in policy") }
                    set.canonicalIds.insert(name)
                default:
                    throw S3Error.malformedPolicy("Invalid principal in policy")
                }
            }
        }
        return set
    }

    /// The account an `AWS` principal names, if it names one: `123456789012` or
    /// `arn:aws:iam::123456789012:root`.
    private static func accountPrincipal(_ name: String) -> String? {
        if Principal.isAccountId(name) { return name }
        let prefix = "arn:aws:iam::", suffix = ":root"
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count == prefix.count + 12 + suffix.count else { return nil }
        let account = name.dropFirst(prefix.count).dropLast(suffix.count)
        return Principal.isAccountId(account) ? String(account) : nil
    }

    private static func stringList(_ value: JSONValue, field: String, allowScalars: Bool = false) throws -> [String] {
        func scalar(_ item: JSONValue) -> String? {
            switch item {
            case .string(let text): return text
            case .bool(let flag) where allowScalars: return flag ? "true" : "false"
            case .number(let text) where allowScalars: return text
            default: return nil
            }
        }
        if let one = scalar(value) { return [one] }
        guard case .array(let list) = value, !list.isEmpty else { throw S3Error.malformedPolicy("Invalid \(field) value") }
        return try list.map {
            guard let text = scalar($0) else { throw S3Error.malformedPolicy("Invalid \(field) value") }
            return text
        }
    }
}

/// A JSON document as the policy parser reads it; numbers keep their text.
enum JSONValue: Decodable {
    case null, bool(Bool), number(String), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let flag = try? container.decode(Bool.self) { self = .bool(flag) }
        else if let integer = try? container.decode(Int64.self) { self = .number(String(integer)) }
        else if let number = try? container.decode(Double.self) { self = .number(String(number)) }
        else if let text = try? container.decode(String.self) { self = .string(text) }
        else if let list = try? container.decode([JSONValue].self) { self = .array(list) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }
}

extension BucketPolicy.Statement {
    func applies(principal: Principal, action: String, resource: String, keys: [String: [String]]) -> Bool {
        guard principals.contains(principal) != notPrincipal else { return false }
        let loweredAction = action.lowercased()
        guard actions.contains(where: { Wildcard.matches($0.lowercased(), loweredAction) }) != notAction else { return false }
        guard resources.contains(where: {
            Wildcard.matches(PolicyVariables.substitute($0, keys: keys), resource)
        }) != notResource else { return false }
        return conditions.allSatisfy { $0.holds(keys) }
    }

    /// Keys whose conditions make a statement non-public (S3's "The meaning of public").
    static let nonPublicKeys: Set<String> = [
        "aws:sourceip", "aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceaccount",
        "aws:sourceowner", "aws:principalorgid", "aws:principalaccount", "aws:userid", "s3:dataaccesspointaccount",
    ]

    /// An Allow for everyone (or, with NotPrincipal, for everyone but some) is public
    /// unless a condition pins the caller to fixed values of a non-public key: a positive
    /// operator, values without wildcards, IP ranges narrower than /8 (IPv4) or /32 (IPv6).
    var isPublic: Bool {
        guard effect == .allow, notPrincipal || principals.everyone else { return false }
        return !conditions.contains(where: \.limitsToFixedValues)
    }
}

extension BucketPolicy.Condition {
    /// Whether this condition confines a statement to known callers (S3's "The meaning
    /// of public"): a positive operator on a non-public key with fixed values.
    var limitsToFixedValues: Bool {
        guard BucketPolicy.Statement.nonPublicKeys.contains(key), qualifier == nil, !ifExists else { return false }
        switch operator_ {
        case "StringEquals", "StringEqualsIgnoreCase", "ArnEquals", "StringLike", "ArnLike":
            return !values.isEmpty && !values.contains { $0.contains("*") || $0.contains("?") || $0.contains("${") }
        case "IpAddress":
            return !values.isEmpty && values.allSatisfy { value in
                guard let range = IPRange(value) else { return false }
                return range.prefix >= (range.bytes.count == 4 ? 8 : 32)
            }
        default:
            return false
        }
    }

    /// Whether the condition holds for the request's keys (IAM's rules for absent keys).
    func holds(_ keys: [String: [String]]) -> Bool {
        if operator_ == "Null" {
            let absent = keys[key]?.isEmpty ?? true
            return values.contains { ($0.lowercased() == "true") == absent }
        }
        guard let present = keys[key], !present.isEmpty else {
            if ifExists { return true }
            // ForAnyValue needs a value to be true; ForAllValues holds for none.
            if let qualifier { return qualifier == "ForAllValues" }
            return ConditionOperators.negated.contains(operator_)
        }
        let substituted = values.map { PolicyVariables.substitute($0, keys: keys) }
        let exact = substituted.map(PolicyVariables.plain)
        let wildcard = ["StringLike", "StringNotLike", "ArnLike", "ArnNotLike"].contains(operator_)
        let test = { (value: String) in
            ConditionOperators.matches(operator_, requestValue: value, policyValues: wildcard ? substituted : exact)
        }
        if qualifier == "ForAllValues" { return present.allSatisfy(test) }
        return present.contains(where: test)
    }
}

/// The condition operators and what they mean.
enum ConditionOperators {
    static let known: Set<String> = [
        "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
        "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
        "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals", "DateNotEquals", "DateLessThan",
        "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals", "Bool", "IpAddress", "NotIpAddress",
        "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike", "Null", "BinaryEquals",
    ]

    /// Operators that are true for a key the request lacks.
    static let negated: Set<String> = [
        "StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals", "DateNotEquals",
        "NotIpAddress", "ArnNotEquals", "ArnNotLike",
    ]

    static func matches(_ op: String, requestValue value: String, policyValues: [String]) -> Bool {
        switch op {
        case "StringEquals", "ArnEquals", "BinaryEquals": return policyValues.contains(value)
        case "StringNotEquals", "ArnNotEquals": return !policyValues.contains(value)
        case "StringEqualsIgnoreCase": return policyValues.contains { $0.lowercased() == value.lowercased() }
        case "StringNotEqualsIgnoreCase": return !policyValues.contains { $0.lowercased() == value.lowercased() }
        case "StringLike", "ArnLike": return policyValues.contains { Wildcard.matches($0, value) }
        case "StringNotLike", "ArnNotLike": return !policyValues.contains { Wildcard.matches($0, value) }
        case "Bool": return policyValues.contains { $0.lowercased() == value.lowercased() }
        case "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
             "NumericGreaterThan", "NumericGreaterThanEquals":
            guard let number = Double(value) else { return false }
            let compared = policyValues.compactMap(Double.init).map { compare(number, $0, op.dropFirst("Numeric".count)) }
            return op == "NumericNotEquals" ? !compared.contains(true) : compared.contains(true)
        case "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals":
            guard let date = parseDate(value) else { return false }
            let compared = policyValues.compactMap(parseDate).map { compare(date, $0, op.dropFirst("Date".count)) }
            return op == "DateNotEquals" ? !compared.contains(true) : compared.contains(true)
        case "IpAddress": return policyValues.contains { IPRange($0)?.contains(value) ?? false }
        case "NotIpAddress": return !policyValues.contains { IPRange($0)?.contains(value) ?? false }
        default: return false
        }
    }

    /// `Equals` / `NotEquals` (both answer "equal?"; the caller negates), `LessThan`, …
    private static func compare(_ a: Double, _ b: Double, _ relation: Substring) -> Bool {
        switch relation {
        case "Equals", "NotEquals": return a == b
        case "LessThan": return a < b
        case "LessThanEquals": return a <= b
        case "GreaterThan": return a > b
        case "GreaterThanEquals": return a >= b
        default: return false
        }
    }

    /// ISO 8601 (`2026-01-01T00:00:00Z`, with or without fractions) or epoch seconds.
    static func parseDate(_ text: String) -> Double? {
        if let seconds = Double(text) { return seconds }
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withFullDate]
        return formatter.date(from: text)?.timeIntervalSince1970
    }
}

/// An IPv4 or IPv6 address with an optional CIDR prefix length (`aws:SourceIp`).
struct IPRange {
    var bytes: [UInt8]
    var prefix: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let address = IPRange.parseAddress(String(first)) else { return nil }
        bytes = address
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...(address.count * 8)).contains(length) else { return nil }
            prefix = length
        } else {
            prefix = address.count * 8
        }
    }

    func contains(_ text: String) -> Bool {
        guard let address = IPRange.parseAddress(text), address.count == bytes.count else { return false }
        var remaining = prefix
        for i in 0..<bytes.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            guard address[i] & mask == bytes[i] & mask else { return false }
            remaining -= bits
        }
        return true
    }

    static func parseAddress(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        // An IPv4 client on a dual-stack listener shows as ::ffff:a.b.c.d.
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF { return Array(bytes[12...]) }
        return bytes
    }
}

/// `*` (any run of characters) and `?` (any one character) patterns, as IAM matches
/// actions, resources and StringLike values; everything else is literal.
enum Wildcard {
    static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.unicodeScalars), t = Array(text.unicodeScalars)
        var pi = 0, ti = 0
        var star = -1, mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == t[ti] || PolicyVariables.literal(p[pi]) == t[ti]) {
                pi += 1
                ti += 1
            } else if pi < p.count && p[pi] == "*" {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}

/// Policy variables: `${aws:username}` and other request keys inside Resource and
/// condition values, and the escapes `${*}`, `${?}`, `${$}`. What a variable puts in is
/// literal text, never a wildcard: its `*` and `?` become private-use marks that
/// ``Wildcard`` matches only against themselves (``literal(_:)``), and that the exact
/// operators turn back (``plain(_:)``).
enum PolicyVariables {
    static let star: Unicode.Scalar = "\u{F8FE}"
    static let question: Unicode.Scalar = "\u{F8FF}"

    /// The character a mark stands for (nil for any other).
    static func literal(_ scalar: Unicode.Scalar) -> Unicode.Scalar? {
        scalar == star ? "*" : scalar == question ? "?" : nil
    }

    /// Text with the marks turned back into `*` and `?`.
    static func plain(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { literal($0) != nil }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars { out.append(literal(scalar) ?? scalar) }
        return String(out)
    }

    private static func marked(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars { out.append(scalar == "*" ? star : scalar == "?" ? question : scalar) }
        return String(out)
    }

    static func substitute(_ text: String, keys: [String: [String]]) -> String {
        guard text.contains("${") else { return text }
        var out = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            out += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                out += rest[start.lowerBound...]
                return out
            }
            let name = rest[start.upperBound..<end]
            switch name {
            case "*": out += marked("*")
            case "?": out += marked("?")
            case "$": out += "$"
            default:
                // An unknown variable matches nothing: substitute a character no ARN has.
                out += keys[name.lowercased()]?.first.map(marked) ?? "\u{0}"
            }
            rest = rest[rest.index(after: end)...]
        }
        out += rest
        return out
    }
}
