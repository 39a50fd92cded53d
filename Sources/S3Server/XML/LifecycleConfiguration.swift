import Foundation
import ObjectStore

/// A bucket lifecycle configuration (PutBucketLifecycleConfiguration), validated as S3
/// validates it and enforced by the ``LifecycleWorker``.
///
/// Actions: `Expiration` (`Days`, `Date` or `ExpiredObjectDeleteMarker`),
/// `NoncurrentVersionExpiration` (`NoncurrentDays`, `NewerNoncurrentVersions`),
/// `AbortIncompleteMultipartUpload` (`DaysAfterInitiation`). Filters: `Filter` with one of
/// `Prefix`, `Tag`, `ObjectSizeGreaterThan`, `ObjectSizeLessThan` or `And` (a prefix,
/// tags and sizes together), or the legacy rule-level `Prefix`. Transitions move objects
/// between storage classes, which Strata does not have: NotImplemented, never stored and
/// ignored.
struct LifecycleConfiguration: Sendable, Equatable {
    struct Filter: Sendable, Equatable {
        var prefix = ""
        var tags: [String: String] = [:]
        var sizeGreaterThan: UInt64?
        var sizeLessThan: UInt64?

        /// Whether an object with this key, size and tags is in the rule's scope: every
        /// condition holds (S3's `And`), each tag present with the same value.
        func matches(key: String, size: UInt64, tags objectTags: [String: String]) -> Bool {
            guard key.hasPrefix(prefix) else { return false }
            if let sizeGreaterThan, size <= sizeGreaterThan { return false }
            if let sizeLessThan, size >= sizeLessThan { return false }
            return tags.allSatisfy { objectTags[$0.key] == $0.value }
        }
    }

    struct Rule: Sendable, Equatable {
        var id: String?
        var filter: Filter
        var enabled: Bool
        /// Expiration Days: the current version expires this many days after it was
        /// last modified, rounded up to the next midnight UTC.
        var expirationDays: Int?
        /// Expiration Date (ms since 1970, a midnight UTC): current versions expire from then on.
        var expirationDate: Int64?
        /// Expiration ExpiredObjectDeleteMarker: a delete marker with no noncurrent
        /// versions left is removed (versioned buckets).
        var expiredObjectDeleteMarker = false
        /// NoncurrentVersionExpiration NoncurrentDays (versioned buckets).
        var noncurrentDays: Int?
        /// NoncurrentVersionExpiration NewerNoncurrentVersions: that many newest
        /// noncurrent versions are kept whatever their age.
        var newerNoncurrentVersions: Int?
        /// AbortIncompleteMultipartUpload DaysAfterInitiation.
        var abortIncompleteUploadDays: Int?

        /// An Expiration Days rule also removes expired delete markers (S3, "Managing
        /// delete markers"); markers have no tags, so not under a tag filter.
        var cleansDeleteMarkers: Bool { expirationDays != nil && filter.tags.isEmpty }
    }

    var rules: [Rule]

    /// When the current version `info` expires under the enabled rules that cover it
    /// (prefix, tags, size), and by which rule: `Days` counted on `clock` from its
    /// last-modified time, `Date` as given; the earliest wins. Nil if no rule expires it.
    func expiry(of info: ObjectInfo, clock: LifecycleClock) -> (time: Int64, rule: String?)? {
        var best: (time: Int64, rule: String?)?
        for rule in rules where rule.enabled && rule.filter.matches(key: info.key, size: info.size, tags: info.tags) {
            var times: [Int64] = []
            if let days = rule.expirationDays { times.append(clock.due(from: info.lastModified, days: days)) }
            if let date = rule.expirationDate { times.append(date) }
            if let time = times.min(), best.map({ time < $0.time }) ?? true { best = (time, rule.id) }
        }
        return best
    }

    static let maxRules = 1000

    /// The document to store for a valid PUT: as sent, except that a rule without an `ID`
    /// gets one, as S3 assigns it (GetBucketLifecycleConfiguration then returns it, and
    /// `x-amz-expiration` names it).
    static func storedDocument(_ bytes: [UInt8]) throws -> [UInt8] {
        _ = try parse(bytes)
        var root = try XMLTree.parseDocument(bytes, root: "LifecycleConfiguration")
        guard root.children.contains(where: { $0.child("ID") == nil }) else { return bytes }
        for i in root.children.indices where root.children[i].child("ID") == nil {
            root.children[i].children.insert(XMLTree(name: "ID", namespace: root.children[i].namespace, text: generatedRuleID()),
                                             at: 0)
        }
        return root.document()
    }

    /// An ID like those S3 generates: 48 characters, the base64 of a random UUID's text.
    static func generatedRuleID() -> String {
        Data(UUID().uuidString.lowercased().utf8).base64EncodedString()
    }

    static func parse(_ bytes: [UInt8]) throws -> LifecycleConfiguration {
        let root = try XMLTree.parseDocument(bytes, root: "LifecycleConfiguration")
        guard root.children.allSatisfy({ $0.name == "Rule" }) else { throw S3Error.malformedXML }
        let ruleNodes = root.children("Rule")
        guard !ruleNodes.isEmpty else { throw S3Error.malformedXML }
        guard ruleNodes.count <= maxRules else {
            throw S3Error.invalidRequest("The number of lifecycle rules should not exceed allowed limit of \(maxRules) rules")
        }
        var rules: [Rule] = []
        var ids: Set<String> = []
        for node in ruleNodes {
            let rule = try parseRule(node)
            if let id = rule.id, !ids.insert(id).inserted {
                throw S3Error.invalidArgument("Rule ID must be unique. Found same ID for more than one rule", name: "ID", value: id)
            }
            rules.append(rule)
        }
        return LifecycleConfiguration(rules: rules)
    }

    private static let ruleElements: Set<String> = [
        "ID", "Status", "Prefix", "Filter", "Expiration", "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload",
        "Transition", "NoncurrentVersionTransition",
    ]

    private static func parseRule(_ node: XMLTree) throws -> Rule {
        for child in node.children where !ruleElements.contains(child.name) { throw S3Error.malformedXML }
        for name in ruleElements where name != "Transition" && name != "NoncurrentVersionTransition" {
            guard node.children(name).count <= 1 else { throw S3Error.malformedXML }
        }
        let id = node.child("ID")?.text
        if let id, id.utf8.count > 255 {
            throw S3Error.invalidArgument("ID length should not exceed allowed limit of 255", name: "ID", value: id)
        }
        let status = node.child("Status")?.text.trimmingSpaces()
        guard status == "Enabled" || status == "Disabled" else { throw S3Error.malformedXML }

        // Exactly one of the rule-level Prefix (legacy) and Filter.
        let filter: Filter
        switch (node.child("Prefix"), node.child("Filter")) {
        case (let prefix?, nil): filter = Filter(prefix: prefix.text)
        case (nil, let element?): filter = try parseFilter(element)
        default: throw S3Error.malformedXML
        }
        let transitions = try validateTransitions(node)
        var rule = Rule(id: id, filter: filter, enabled: status == "Enabled")

        if let expiration = node.child("Expiration") {
            let days = expiration.child("Days"), date = expiration.child("Date")
            let marker = expiration.child("ExpiredObjectDeleteMarker")
            for child in expiration.children where !["Days", "Date", "ExpiredObjectDeleteMarker"].contains(child.name) {
                throw S3Error.malformedXML
            }
            guard [days, date, marker].compactMap({ $0 }).count == 1 else {
                // S3: ExpiredObjectDeleteMarker cannot be specified with Days or Date.
                throw S3Error.malformedXML
            }
            if let days { rule.expirationDays = try positive(days.text, "'Days' for Expiration action must be a positive integer", name: "Days") }
            if let date { rule.expirationDate = try midnight(date.text) }
            if let marker {
                let text = marker.text.trimmingSpaces()
                guard text == "true" || text == "false" else { throw S3Error.malformedXML }
                rule.expiredObjectDeleteMarker = text == "true"
                if !filter.tags.isEmpty {
                    throw S3Error.invalidRequest("ExpiredObjectDeleteMarker cannot be specified with object tags")
                }
            }
        }
        if let noncurrent = node.child("NoncurrentVersionExpiration") {
            for child in noncurrent.children where !["NoncurrentDays", "NewerNoncurrentVersions"].contains(child.name) {
                throw S3Error.malformedXML
            }
            guard let days = noncurrent.child("NoncurrentDays") else { throw S3Error.malformedXML }
            rule.noncurrentDays = try positive(days.text, "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
                                               name: "NoncurrentDays")
            if let newer = noncurrent.child("NewerNoncurrentVersions") {
                let text = newer.text.trimmingSpaces()
                guard let n = Int(text), (1...100).contains(n) else {
                    throw S3Error.invalidArgument("NewerNoncurrentVersions for NoncurrentVersionExpiration action must be a positive integer up to 100",
                                                  name: "NewerNoncurrentVersions", value: String(text))
                }
                rule.newerNoncurrentVersions = n
            }
        }
        if let abort = node.child("AbortIncompleteMultipartUpload") {
            for child in abort.children where child.name != "DaysAfterInitiation" { throw S3Error.malformedXML }
            rule.abortIncompleteUploadDays = try positive(
                abort.child("DaysAfterInitiation")?.text ?? "",
                "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer", name: "DaysAfterInitiation")
            if !filter.tags.isEmpty || filter.sizeLessThan != nil || filter.sizeGreaterThan != nil {
                throw S3Error.invalidRequest("AbortIncompleteMultipartUpload cannot be specified with Tags.")
            }
        }
        guard rule.expirationDays != nil || rule.expirationDate != nil || node.child("Expiration")?.child("ExpiredObjectDeleteMarker") != nil
                || rule.noncurrentDays != nil || rule.abortIncompleteUploadDays != nil || !transitions.isEmpty else {
            throw S3Error.invalidRequest("At least one action needs to be specified in a rule")
        }
        // Only a rule S3 would accept gets here: a malformed one got S3's 4xx above.
        if let name = transitions.first {
            throw S3Error.notImplemented("Lifecycle action \(name) is not implemented by Strata: it has no storage classes to move objects to")
        }
        return rule
    }

    private static func parseFilter(_ element: XMLTree) throws -> Filter {
        // An empty Filter covers every object. Otherwise exactly one condition, or And.
        guard element.children.count <= 1 else { throw S3Error.malformedXML }
        var filter = Filter()
        guard let condition = element.children.first else { return filter }
        if condition.name == "And" {
            for child in condition.children {
                switch child.name {
                case "Prefix":
                    filter.prefix = child.text
                case "Tag":
                    let (key, value) = try tag(child)
                    guard filter.tags.updateValue(value, forKey: key) == nil else {
                        throw S3Error.invalidRequest("Duplicate Tag Keys are not allowed.")
                    }
                case "ObjectSizeGreaterThan", "ObjectSizeLessThan":
                    try size(child, into: &filter)
                default:
                    throw S3Error.malformedXML
                }
            }
            guard condition.children("Prefix").count <= 1, condition.children("ObjectSizeGreaterThan").count <= 1,
                  condition.children("ObjectSizeLessThan").count <= 1 else { throw S3Error.malformedXML }
        } else {
            switch condition.name {
            case "Prefix": filter.prefix = condition.text
            case "Tag":
                let (key, value) = try tag(condition)
                filter.tags[key] = value
            case "ObjectSizeGreaterThan", "ObjectSizeLessThan": try size(condition, into: &filter)
            default: throw S3Error.malformedXML
            }
        }
        if let low = filter.sizeGreaterThan, let high = filter.sizeLessThan, low >= high {
            throw S3Error.invalidArgument("ObjectSizeGreaterThan must be less than ObjectSizeLessThan",
                                          name: "ObjectSizeGreaterThan", value: String(low))
        }
        return filter
    }

    private static func tag(_ element: XMLTree) throws -> (String, String) {
        guard let key = element.child("Key"), let value = element.child("Value"), element.children.count == 2 else {
            throw S3Error.malformedXML
        }
        // The same limits as an object's tags.
        let set = try TagSet(checking: [(key.text, value.text)], kind: .object)
        return set.tags.first!
    }

    private static func size(_ element: XMLTree, into filter: inout Filter) throws {
        let text = element.text.trimmingSpaces()
        guard let value = UInt64(text) else {
            throw S3Error.invalidArgument("\(element.name) must be a non-negative integer", name: element.name, value: String(text))
        }
        if element.name == "ObjectSizeGreaterThan" { filter.sizeGreaterThan = value } else { filter.sizeLessThan = value }
    }

    /// The storage classes a Transition may name.
    static let transitionStorageClasses: Set<String> = [
        "GLACIER", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "DEEP_ARCHIVE", "GLACIER_IR",
    ]

    /// Validates the rule's Transition and NoncurrentVersionTransition elements as S3 does
    /// and returns the names of those present (Strata implements neither: the caller
    /// answers 501 once the whole rule is known to be valid).
    private static func validateTransitions(_ node: XMLTree) throws -> [String] {
        var present: [String] = []
        for transition in node.children("Transition") {
            present.append("Transition")
            for child in transition.children where !["Days", "Date", "StorageClass"].contains(child.name) { throw S3Error.malformedXML }
            let days = transition.child("Days"), date = transition.child("Date")
            guard (days == nil) != (date == nil) else { throw S3Error.malformedXML }
            if let days { _ = try nonNegative(days.text, "'Days' in Transition action must be nonnegative", name: "Days") }
            if let date { _ = try midnight(date.text) }
            try checkStorageClass(transition)
        }
        for transition in node.children("NoncurrentVersionTransition") {
            present.append("NoncurrentVersionTransition")
            for child in transition.children where !["NoncurrentDays", "StorageClass", "NewerNoncurrentVersions"].contains(child.name) {
                throw S3Error.malformedXML
            }
            guard let days = transition.child("NoncurrentDays") else { throw S3Error.malformedXML }
            _ = try nonNegative(days.text, "'NoncurrentDays' in NoncurrentVersionTransition action must be nonnegative", name: "NoncurrentDays")
            try checkStorageClass(transition)
        }
        return present
    }

    private static func checkStorageClass(_ transition: XMLTree) throws {
        guard let storageClass = transition.child("StorageClass")?.text.trimmingSpaces(),
              transitionStorageClasses.contains(String(storageClass)) else { throw S3Error.malformedXML }
    }

    private static func nonNegative(_ text: String, _ message: String, name: String) throws -> Int {
        let trimmed = text.trimmingSpaces()
        guard let value = Int(trimmed), (0...2_147_483_647).contains(value) else {
            throw S3Error.invalidArgument(message, name: name, value: String(trimmed))
        }
        return value
    }

    private static func positive(_ text: String, _ message: String, name: String) throws -> Int {
        let trimmed = text.trimmingSpaces()
        guard let value = Int(trimmed), (1...2_147_483_647).contains(value) else {
            throw S3Error.invalidArgument(message, name: name, value: String(trimmed))
        }
        return value
    }

    /// An Expiration Date: ISO 8601, at midnight UTC (S3: "'Date' must be at midnight GMT").
    static func midnight(_ text: String) throws -> Int64 {
        let trimmed = String(text.trimmingSpaces())
        let formatter = ISO8601DateFormatter()
        var date = formatter.date(from: trimmed)
        if date == nil {
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            date = formatter.date(from: trimmed)
        }
        if date == nil {
            formatter.formatOptions = [.withFullDate]
            date = formatter.date(from: trimmed)
        }
        guard let date else {
            throw S3Error.invalidArgument("Invalid date: \(trimmed)", name: "Date", value: trimmed)
        }
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        guard milliseconds % 86_400_000 == 0 else {
            throw S3Error.invalidArgument("'Date' must be at midnight GMT", name: "Date", value: trimmed)
        }
        return milliseconds
    }
}
