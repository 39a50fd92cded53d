import Foundation

/// A bucket CORS configuration (PutBucketCors), validated as S3 validates it, and the
/// rule matching S3 applies to preflight (OPTIONS) and actual cross-origin requests:
/// the first rule whose origin, method and (for a preflight) every requested header
/// match wins.
struct CORSConfiguration: Sendable, Equatable {
    struct Rule: Sendable, Equatable {
        var id: String?
        var allowedOrigins: [String]
        var allowedMethods: [String]
        var allowedHeaders: [String]
        var exposeHeaders: [String]
        var maxAgeSeconds: Int?

        /// Whether an origin matches: each AllowedOrigin may hold one `*` wildcard
        /// (`http://*.example.com`, `*`), matched case-sensitively as S3 does.
        func allowsOrigin(_ origin: String) -> Bool {
            allowedOrigins.contains { CORSConfiguration.wildcardMatch($0, origin, caseSensitive: true) }
        }

        /// Whether every requested header matches some AllowedHeader (case-insensitively;
        /// an AllowedHeader may hold one `*`).
        func allowsHeaders(_ headers: [String]) -> Bool {
            headers.allSatisfy { header in
                allowedHeaders.contains { CORSConfiguration.wildcardMatch($0, header, caseSensitive: false) }
            }
        }

        /// Whether the origin echoed back is `*`: S3 answers `Access-Control-Allow-Origin: *`
        /// (and no `Access-Control-Allow-Credentials`) when the matching rule allows any origin.
        var allowsAnyOrigin: Bool { allowedOrigins.contains("*") }
    }

    var rules: [Rule]

    /// S3's methods for AllowedMethod.
    static let supportedMethods: Set<String> = ["GET", "PUT", "POST", "DELETE", "HEAD"]
    /// S3's limit on rules per configuration.
    static let maxRules = 100

    /// The first rule allowing `origin` and `method` (and, for a preflight, every one of
    /// `requestHeaders`).
    func firstMatch(origin: String, method: String, requestHeaders: [String] = []) -> Rule? {
        rules.first { rule in
            rule.allowsOrigin(origin) && rule.allowedMethods.contains(method) && rule.allowsHeaders(requestHeaders)
        }
    }

    static func parse(_ bytes: [UInt8]) throws -> CORSConfiguration {
        let root = try XMLTree.parse(bytes)
        guard root.name == "CORSConfiguration" else { throw S3Error.malformedXML }
        for child in root.children where child.name != "CORSRule" { throw S3Error.malformedXML }
        let ruleNodes = root.children("CORSRule")
        guard !ruleNodes.isEmpty else { throw S3Error.malformedXML }
        guard ruleNodes.count <= maxRules else {
            throw S3Error.invalidRequest("The number of CORS rules should not exceed allowed limit of \(maxRules) rules.")
        }
        let known: Set<String> = ["ID", "AllowedOrigin", "AllowedMethod", "AllowedHeader", "ExposeHeader", "MaxAgeSeconds"]
        var rules: [Rule] = []
        for node in ruleNodes {
            for child in node.children where !known.contains(child.name) || !child.children.isEmpty {
                throw S3Error.malformedXML
            }
            guard node.children("ID").count <= 1, node.children("MaxAgeSeconds").count <= 1 else { throw S3Error.malformedXML }
            let id = node.child("ID")?.text
            if let id, id.utf8.count > 255 {
                throw S3Error.invalidArgument("ID length should not exceed allowed limit of 255", name: "ID", value: id)
            }
            let origins = node.children("AllowedOrigin").map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }
            let methods = node.children("AllowedMethod").map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }
            let headers = node.children("AllowedHeader").map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }
            let expose = node.children("ExposeHeader").map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }
            guard !origins.isEmpty, !methods.isEmpty else { throw S3Error.malformedXML }
            for method in methods where !supportedMethods.contains(method) {
                throw S3Error.invalidRequest("Found unsupported HTTP method in CORS config. Unsupported method is \(method)")
            }
            for origin in origins where origin.utf8.filter({ $0 == UInt8(ascii: "*") }).count > 1 {
                throw S3Error.invalidRequest("AllowedOrigin \"\(origin)\" can not have more than one wildcard.")
            }
            for header in headers where header.utf8.filter({ $0 == UInt8(ascii: "*") }).count > 1 {
                throw S3Error.invalidRequest("AllowedHeader \"\(header)\" can not have more than one wildcard.")
            }
            var maxAge: Int?
            if let text = node.child("MaxAgeSeconds")?.text.trimmingCharacters(in: .whitespacesAndNewlines) {
                guard let value = Int(text), value >= 0 else { throw S3Error.malformedXML }
                maxAge = value
            }
            rules.append(Rule(id: id, allowedOrigins: origins, allowedMethods: methods, allowedHeaders: headers,
                              exposeHeaders: expose, maxAgeSeconds: maxAge))
        }
        return CORSConfiguration(rules: rules)
    }

    /// Matches `text` against `pattern`, which holds at most one `*` standing for any run
    /// of characters.
    static func wildcardMatch(_ pattern: String, _ text: String, caseSensitive: Bool) -> Bool {
        let p = Array((caseSensitive ? pattern : pattern.lowercased()).utf8)
        let t = Array((caseSensitive ? text : text.lowercased()).utf8)
        guard let star = p.firstIndex(of: UInt8(ascii: "*")) else { return p == t }
        let prefix = p[..<star], suffix = p[(star + 1)...]
        return t.count >= prefix.count + suffix.count && t.starts(with: prefix) && t.reversed().starts(with: suffix.reversed())
    }
}
