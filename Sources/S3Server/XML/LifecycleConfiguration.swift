/// A bucket lifecycle configuration (PutBucketLifecycleConfiguration), as far as Strata
/// enforces it: `AbortIncompleteMultipartUpload` rules with a prefix filter. Rules with
/// other actions (expiration, transitions) or tag filters are refused as NotImplemented
/// rather than stored and silently not applied.
struct LifecycleConfiguration: Sendable, Equatable {
    struct Rule: Sendable, Equatable {
        var id: String?
        var prefix: String
        var enabled: Bool
        /// AbortIncompleteMultipartUpload's DaysAfterInitiation.
        var abortIncompleteUploadDays: Int
    }

    var rules: [Rule]

    /// The age in milliseconds after which an upload of `key` is aborted, if an enabled
    /// rule covers it (the shortest, when several do).
    func abortAge(forKey key: String) -> Int64? {
        rules.filter { $0.enabled && key.hasPrefix($0.prefix) }
            .map { Int64($0.abortIncompleteUploadDays) * 86_400_000 }.min()
    }

    static func parse(_ bytes: [UInt8]) throws -> LifecycleConfiguration {
        let root = try XMLTree.parse(bytes)
        guard root.name == "LifecycleConfiguration" else { throw S3Error.malformedXML }
        let ruleNodes = root.children("Rule")
        guard !ruleNodes.isEmpty, ruleNodes.count <= 1000 else { throw S3Error.malformedXML }
        var rules: [Rule] = []
        var ids: Set<String> = []
        for node in ruleNodes {
            let id = node.child("ID")?.text
            if let id {
                guard id.utf8.count <= 255 else { throw S3Error.invalidArgument("ID length should not exceed allowed limit of 255", name: "ID", value: id) }
                guard ids.insert(id).inserted else { throw S3Error.invalidArgument("Rule ID must be unique. Found same ID for more than one rule", name: "ID", value: id) }
            }
            let status = node.child("Status")?.text.trimmingSpaces()
            guard status == "Enabled" || status == "Disabled" else { throw S3Error.malformedXML }

            var prefix = node.child("Prefix")?.text ?? ""
            if let filter = node.child("Filter") {
                guard node.child("Prefix") == nil else { throw S3Error.malformedXML }
                for child in filter.children where child.name != "Prefix" {
                    throw S3Error.notImplemented("Lifecycle filters other than Prefix (\(child.name)) are not implemented by Strata yet")
                }
                prefix = filter.child("Prefix")?.text ?? ""
            }
            for child in node.children where !["ID", "Status", "Prefix", "Filter", "AbortIncompleteMultipartUpload"].contains(child.name) {
                throw S3Error.notImplemented("Lifecycle action \(child.name) is not implemented by Strata yet; only AbortIncompleteMultipartUpload is")
            }
            guard let abort = node.child("AbortIncompleteMultipartUpload") else {
                throw S3Error.invalidRequest("At least one action needs to be specified in a rule")
            }
            let daysText = abort.child("DaysAfterInitiation")?.text.trimmingSpaces() ?? ""
            guard let days = Int(daysText), (1...100_000).contains(days) else {
                throw S3Error.invalidArgument("'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
                                              name: "DaysAfterInitiation", value: String(daysText))
            }
            rules.append(Rule(id: id, prefix: prefix, enabled: status == "Enabled", abortIncompleteUploadDays: days))
        }
        return LifecycleConfiguration(rules: rules)
    }
}
