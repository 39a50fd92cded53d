import Foundation

/// The policy of a browser POST upload ("Creating a POST policy", S3 user guide): a
/// base64 JSON document with an `expiration` and `conditions` that every form field
/// must satisfy. Parsed once, then checked against the form's fields before any byte of
/// the file is stored; `content-length-range` is checked while the file streams in.
struct PostPolicy: Sendable, Equatable {
    enum Match: Sendable, Equatable {
        case exact(String)
        case prefix(String)
    }

    /// One condition on a form field (`$key`, `x-amz-meta-tag`, `bucket`, …).
    struct Condition: Sendable, Equatable {
        /// The field it constrains, lowercased and without `$`.
        var field: String
        var match: Match
        /// The condition as the policy spells it, for the error message.
        var text: String
    }

    /// Seconds since the epoch after which the policy is refused.
    var expiration: Int64
    var conditions: [Condition]
    /// `content-length-range`: the file's allowed size.
    var contentLength: ClosedRange<Int64>?

    /// Fields every POST may carry without a condition naming them: the signature's own,
    /// `x-ignore-*`, and, as S3 allows, a checksum of the file (`x-amz-checksum-crc32`,
    /// `-crc32c`, `-crc64nvme`, `-sha1`, `-sha256`), which is verified against it anyway.
    static func isExempt(_ field: String) -> Bool {
        ["policy", "x-amz-signature", "file", "signature", "awsaccesskeyid"].contains(field) || field.hasPrefix("x-ignore-")
            || ChecksumAlgorithm.allCases.contains { $0.headerName == field }
    }

    /// The form's fields as S3 checks them against the policy and uses them: `${filename}`
    /// in the `key` field replaced by the name of the file being uploaded (nothing for a
    /// file part without one), so conditions on `$key` see the key the object gets.
    static func substitutingFilename(in fields: [String: String], filename: String?) -> [String: String] {
        guard let key = fields["key"] else { return fields }
        var substituted = fields
        substituted["key"] = key.replacingOccurrences(of: "${filename}", with: filename ?? "")
        return substituted
    }

    /// Parses the base64 `policy` field.
    /// - Throws: InvalidPolicyDocument.
    static func parse(base64: String) throws -> PostPolicy {
        guard let data = Data(base64Encoded: base64.trimmingCharacters(in: .whitespacesAndNewlines),
                              options: .ignoreUnknownCharacters) else {
            throw S3Error.invalidPolicyDocument("Invalid Policy: Invalid Base64 Encoding.")
        }
        return try parse(json: data)
    }

    static func parse(json data: Data) throws -> PostPolicy {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw S3Error.invalidPolicyDocument("Invalid Policy: Invalid JSON.")
        }
        guard let expirationValue = object["expiration"] else {
            throw S3Error.invalidPolicyDocument("Invalid Policy: Policy missing expiration.")
        }
        guard let text = expirationValue as? String, let expiration = parseExpiration(text) else {
            throw S3Error.invalidPolicyDocument("Invalid Policy: Invalid 'expiration' value: '\(expirationValue)'")
        }
        guard let list = object["conditions"] else {
            throw S3Error.invalidPolicyDocument("Invalid Policy: Policy missing conditions.")
        }
        guard let items = list as? [Any] else {
            throw S3Error.invalidPolicyDocument("Invalid Policy: Policy conditions must be a list.")
        }
        var policy = PostPolicy(expiration: expiration, conditions: [], contentLength: nil)
        for item in items {
            if let simple = item as? [String: Any] {
                // {"field": "value"}: an exact match.
                guard simple.count == 1, let (name, value) = simple.first, let string = value as? String else {
                    throw S3Error.invalidPolicyDocument("Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.")
                }
                policy.conditions.append(Condition(field: fieldName(name), match: .exact(string),
                                                   text: "[\"eq\", \"$\(name)\", \"\(string)\"]"))
            } else if let array = item as? [Any], let op = (array.first as? String)?.lowercased() {
                switch op {
                case "eq", "starts-with":
                    guard array.count == 3, let name = array[1] as? String, name.hasPrefix("$"),
                          let value = array[2] as? String else {
                        throw S3Error.invalidPolicyDocument("Invalid Policy: Invalid '\(op)' condition: \(array)")
                    }
                    let field = fieldName(String(name.dropFirst()))
                    policy.conditions.append(Condition(field: field, match: op == "eq" ? .exact(value) : .prefix(value),
                                                       text: "[\"\(op)\", \"\(name)\", \"\(value)\"]"))
                case "content-length-range":
                    guard array.count == 3, let low = integer(array[1]), let high = integer(array[2]),
                          low >= 0, low <= high else {
                        throw S3Error.invalidPolicyDocument("Invalid Policy: Invalid content-length-range condition.")
                    }
                    policy.contentLength = low...high
                default:
                    throw S3Error.invalidPolicyDocument("Invalid Policy: Invalid Condition: unknown operation '\(op)'.")
                }
            } else {
                throw S3Error.invalidPolicyDocument("Invalid Policy: Invalid Condition.")
            }
        }
        return policy
    }

    /// Checks the form against the policy at time `now` (seconds since the epoch).
    /// - Parameters:
    ///   - fields: the form fields, by lowercased name.
    ///   - bucket: the addressed bucket (what a `bucket` condition is checked against).
    /// - Throws: AccessDenied "Invalid according to Policy: …".
    func check(fields: [String: String], bucket: String, now: Int64) throws {
        guard now <= expiration else {
            throw S3Error.accessDenied("Invalid according to Policy: Policy expired.")
        }
        for condition in conditions {
            let value = condition.field == "bucket" ? bucket : fields[condition.field]
            let satisfied: Bool
            switch (condition.match, value) {
            case (_, nil): satisfied = false
            case (.exact(let expected), let value?): satisfied = value == expected
            case (.prefix(let prefix), let value?): satisfied = value.hasPrefix(prefix)
            }
            if !satisfied {
                throw S3Error.accessDenied("Invalid according to Policy: Policy Condition failed: \(condition.text)")
            }
        }
        let covered = Set(conditions.map(\.field))
        let extra = fields.keys.filter { !Self.isExempt($0) && !covered.contains($0) }.sorted()
        if !extra.isEmpty {
            throw S3Error.accessDenied("Invalid according to Policy: Extra input fields: \(extra.joined(separator: ", "))")
        }
    }

    private static func fieldName(_ name: String) -> String {
        name.hasPrefix("$") ? String(name.dropFirst()).lowercased() : name.lowercased()
    }

    private static func integer(_ value: Any) -> Int64? {
        if let string = value as? String { return Int64(string) }
        if let number = value as? NSNumber {
            let double = number.doubleValue
            guard double == double.rounded(), double >= 0, double < 9.2e18 else { return nil }
            return number.int64Value
        }
        return nil
    }

    /// Parses an ISO 8601 UTC time such as `2026-12-04T12:00:00.000Z` (fraction optional).
    static func parseExpiration(_ text: String) -> Int64? {
        let u = Array(text.utf8)
        guard u.count >= 20, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-"), u[10] == UInt8(ascii: "T"),
              u[13] == UInt8(ascii: ":"), u[16] == UInt8(ascii: ":"), u.last == UInt8(ascii: "Z") else { return nil }
        var fraction = Array(u[19..<(u.count - 1)])
        if !fraction.isEmpty {
            guard fraction.first == UInt8(ascii: "."), fraction.count > 1 else { return nil }
            fraction.removeFirst()
            guard fraction.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        }
        var basic: [UInt8] = []
        for range in [0..<4, 5..<7, 8..<10] { basic += u[range] }
        basic.append(UInt8(ascii: "T"))
        for range in [11..<13, 14..<16, 17..<19] { basic += u[range] }
        basic.append(UInt8(ascii: "Z"))
        let compact = String(decoding: basic, as: UTF8.self)
        return AmzDate.parseISO8601Basic(compact)
    }
}
