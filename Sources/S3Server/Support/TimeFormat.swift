import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The date formats of S3 responses, formatted without Foundation's formatters (they are
/// slow and locale-dependent): HTTP dates for `Last-Modified`/`Date` and ISO 8601 with
/// milliseconds for XML documents.
enum TimeFormat {
    private static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Wed, 12 Oct 2009 17:50:00 GMT` from milliseconds since 1970.
    static func httpDate(milliseconds: Int64) -> String {
        let c = Civil(seconds: floorDiv(milliseconds, 1000))
        let weekday = weekdays[Int(((c.days % 7) + 7) % 7)]
        return "\(weekday), \(pad(c.day, 2)) \(months[c.month - 1]) \(pad(c.year, 4)) \(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2)) GMT"
    }

    /// Milliseconds since 1970 of an ISO 8601 date-time (`2030-01-01T00:00:00Z`, with or
    /// without fractional seconds, any offset), or nil.
    static func parseISO8601(_ text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }

    /// `2009-10-12T17:50:30.000Z` from milliseconds since 1970.
    static func iso8601(milliseconds: Int64) -> String {
        var bytes: [UInt8] = []
        writeISO8601(milliseconds: milliseconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// ``iso8601(milliseconds:)`` written as bytes (listings write one per key): the 24
    /// characters are formed on the stack and appended in one copy.
    static func writeISO8601(milliseconds: Int64, to buffer: inout [UInt8]) {
        let c = Civil(seconds: floorDiv(milliseconds, 1000))
        let ms = Int(milliseconds - floorDiv(milliseconds, 1000) * 1000)
        var text: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &text) { out in
            var at = 0
            // `width` digits of `value`, most significant first (a wider value keeps its low digits).
            func digits(_ value: Int, _ width: Int) {
                var v = value
                for i in stride(from: width - 1, through: 0, by: -1) {
                    out[at + i] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
                at += width
            }
            func mark(_ c: Unicode.Scalar) {
                out[at] = UInt8(ascii: c)
                at += 1
            }
            digits(c.year, 4); mark("-")
            digits(c.month, 2); mark("-")
            digits(c.day, 2); mark("T")
            digits(c.hour, 2); mark(":")
            digits(c.minute, 2); mark(":")
            digits(c.second, 2); mark(".")
            digits(ms, 3); mark("Z")
            buffer.append(contentsOf: UnsafeRawBufferPointer(out))
        }
    }

    /// `20130524T000000Z` (the `X-Amz-Date` form) from seconds since 1970.
    static func iso8601Basic(seconds: Int64) -> String {
        let c = Civil(seconds: seconds)
        return "\(pad(c.year, 4))\(pad(c.month, 2))\(pad(c.day, 2))T\(pad(c.hour, 2))\(pad(c.minute, 2))\(pad(c.second, 2))Z"
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : (a - b + 1) / b
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// A UTC calendar time (Howard Hinnant's civil-from-days).
    private struct Civil {
        var days: Int64, year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int

        init(seconds: Int64) {
            days = floorDiv(seconds, 86_400)
            let rest = Int(seconds - days * 86_400)
            let z = Int(days) + 719_468
            let era = (z >= 0 ? z : z - 146_096) / 146_097
            let doe = z - era * 146_097
            let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
            let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
            let mp = (5 * doy + 2) / 153
            day = doy - (153 * mp + 2) / 5 + 1
            month = mp < 10 ? mp + 3 : mp - 9
            year = yoe + era * 400 + (month <= 2 ? 1 : 0)
            hour = rest / 3600
            minute = rest % 3600 / 60
            second = rest % 60
        }
    }
}

/// The `Date` header of responses, formatted once per second rather than per response.
enum HTTPDateCache {
    private static let cache = Mutex<(second: Int64, text: String)>((-1, ""))

    static func now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let second = Int64(ts.tv_sec)
        return cache.withLock { entry in
            if entry.second != second {
                entry = (second, TimeFormat.httpDate(milliseconds: second * 1000))
            }
            return entry.text
        }
    }
}
