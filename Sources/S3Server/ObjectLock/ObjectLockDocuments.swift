import Foundation
import NIOHTTP1
import ObjectStore

/// A bucket's Object Lock configuration (PutObjectLockConfiguration): on for good, with
/// an optional default retention every new version gets unless its request sets one.
struct ObjectLockConfiguration: Sendable, Equatable {
    struct DefaultRetention: Sendable, Equatable {
        var mode: ObjectLock.Mode
        /// Exactly one of days and years, as S3 requires.
        var days: Int?
        var years: Int?

        /// The retain-until date of a version written at `now` (ms).
        func retainUntil(now: Int64) -> Int64 {
            if let years {
                let date = Date(timeIntervalSince1970: Double(now) / 1000)
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = TimeZone(identifier: "UTC")!
                let until = calendar.date(byAdding: .year, value: years, to: date) ?? date
                return Int64(until.timeIntervalSince1970 * 1000)
            }
            return now + Int64(days ?? 0) * 86_400_000
        }
    }

    var defaultRetention: DefaultRetention?

    /// Parses an `ObjectLockConfiguration`: `ObjectLockEnabled` Enabled, and at most a
    /// `Rule` whose `DefaultRetention` has a `Mode` and one positive `Days` or `Years`
    /// (S3: MalformedXML otherwise; InvalidArgument for a period that is not positive).
    static func parse(_ bytes: [UInt8]) throws -> ObjectLockConfiguration {
        let root = try XMLTree.parseDocument(bytes, root: "ObjectLockConfiguration")
        guard root.child("ObjectLockEnabled")?.text.trimmingCharacters(in: .whitespacesAndNewlines) == "Enabled" else {
            throw S3Error.malformedXML
        }
        guard let rule = root.child("Rule") else { return ObjectLockConfiguration() }
        guard let retention = rule.child("DefaultRetention"),
              let modeText = retention.child("Mode")?.text.trimmingCharacters(in: .whitespacesAndNewlines),
              let mode = ObjectLock.Mode(rawValue: modeText) else { throw S3Error.malformedXML }
        let days = retention.child("Days")?.text.trimmingCharacters(in: .whitespacesAndNewlines)
        let years = retention.child("Years")?.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (days == nil) != (years == nil) else { throw S3Error.malformedXML }
        guard let period = Int(days ?? years ?? ""), period > 0 else {
            throw S3Error.invalidArgument("Default retention period must be a positive integer value", name: "Days/Years",
                                          value: days ?? years)
        }
        return ObjectLockConfiguration(defaultRetention: DefaultRetention(mode: mode, days: days == nil ? nil : period,
                                                                          years: years == nil ? nil : period))
    }

    /// The document GetObjectLockConfiguration returns.
    func document() -> [UInt8] {
        var xml = XMLWriter()
        xml.open("ObjectLockConfiguration", namespace: S3RequestHandler.namespace)
        xml.element("ObjectLockEnabled", "Enabled")
        if let retention = defaultRetention {
            xml.open("Rule")
            xml.open("DefaultRetention")
            xml.element("Mode", retention.mode.rawValue)
            if let days = retention.days { xml.element("Days", days) }
            if let years = retention.years { xml.element("Years", years) }
            xml.close()
            xml.close()
        }
        xml.close()
        return xml.bytes
    }
}

/// The retention and legal hold documents (Put/GetObjectRetention, Put/GetObjectLegalHold)
/// and the `x-amz-object-lock-*` headers of writes.
enum ObjectLockDocuments {
    static let modeHeader = "x-amz-object-lock-mode"
    static let untilHeader = "x-amz-object-lock-retain-until-date"
    static let legalHoldHeader = "x-amz-object-lock-legal-hold"

    /// A `Retention` document: `Mode` and `RetainUntilDate` together, or neither (an empty
    /// retention, which removes a GOVERNANCE one).
    static func parseRetention(_ bytes: [UInt8]) throws -> (mode: ObjectLock.Mode, until: Int64)? {
        let root = try XMLTree.parseDocument(bytes, root: "Retention")
        let modeText = root.child("Mode")?.text.trimmingCharacters(in: .whitespacesAndNewlines)
        let dateText = root.child("RetainUntilDate")?.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let modeText, let dateText else {
            guard modeText == nil, dateText == nil else { throw S3Error.malformedXML }
            return nil
        }
        guard let mode = ObjectLock.Mode(rawValue: modeText) else { throw S3Error.malformedXML }
        guard let until = TimeFormat.parseISO8601(dateText) else { throw S3Error.malformedXML }
        return (mode, until)
    }

    static func retentionDocument(mode: ObjectLock.Mode, until: Int64) -> [UInt8] {
        var xml = XMLWriter()
        xml.open("Retention", namespace: S3RequestHandler.namespace)
        xml.element("Mode", mode.rawValue)
        xml.element("RetainUntilDate", TimeFormat.iso8601(milliseconds: until))
        xml.close()
        return xml.bytes
    }

    /// A `LegalHold` document: `Status` ON or OFF.
    static func parseLegalHold(_ bytes: [UInt8]) throws -> Bool {
        let root = try XMLTree.parseDocument(bytes, root: "LegalHold")
        switch root.child("Status")?.text.trimmingCharacters(in: .whitespacesAndNewlines) {
        case "ON": return true
        case "OFF": return false
        default: throw S3Error.malformedXML
        }
    }

    static func legalHoldDocument(_ on: Bool) -> [UInt8] {
        var xml = XMLWriter()
        xml.open("LegalHold", namespace: S3RequestHandler.namespace)
        xml.element("Status", on ? "ON" : "OFF")
        xml.close()
        return xml.bytes
    }

    /// The lock a write's headers (or form fields) ask for: nil when they name none.
    static func requested(_ header: (String) -> String?, now: Int64) throws -> ObjectLock? {
        let mode = header(modeHeader), until = header(untilHeader), hold = header(legalHoldHeader)
        guard mode != nil || until != nil || hold != nil else { return nil }
        var lock = ObjectLock()
        if mode != nil || until != nil {
            guard let mode, let until else {
                throw S3Error.invalidArgument("x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied")
            }
            guard let parsed = ObjectLock.Mode(rawValue: mode) else {
                throw S3Error.invalidArgument("Unknown wormMode directive.", name: modeHeader, value: mode)
            }
            guard let date = TimeFormat.parseISO8601(until) else {
                throw S3Error.invalidArgument("The retain until date must be provided in ISO 8601 format", name: untilHeader, value: until)
            }
            guard date > now else {
                throw S3Error.invalidArgument("The retain until date must be in the future!", name: untilHeader, value: until)
            }
            lock.mode = parsed
            lock.retainUntil = date
        }
        if let hold {
            switch hold {
            case "ON": lock.legalHold = true
            case "OFF": lock.legalHold = false
            default: throw S3Error.invalidArgument("Legal Hold must be either of 'ON' or 'OFF'", name: legalHoldHeader, value: hold)
            }
        }
        return lock
    }

    /// The lock headers of a GET or HEAD response.
    static func add(_ lock: ObjectLock?, to headers: inout HTTPHeaders) {
        guard let lock else { return }
        if let mode = lock.mode, let until = lock.retainUntil {
            headers.add(name: modeHeader, value: mode.rawValue)
            headers.add(name: untilHeader, value: TimeFormat.iso8601(milliseconds: until))
        }
        headers.add(name: legalHoldHeader, value: lock.legalHold ? "ON" : "OFF")
    }
}
