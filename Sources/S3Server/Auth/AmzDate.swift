/// The two timestamp formats of S3 authentication, as seconds since the Unix epoch
/// (UTC): ISO 8601 basic (`20130524T000000Z`, `X-Amz-Date`) and the HTTP date
/// (`Fri, 24 May 2013 00:00:00 GMT`, `Date`).
enum AmzDate {
    /// Parses `yyyyMMdd'T'HHmmss'Z'`.
    static func parseISO8601Basic(_ text: String) -> Int64? {
        let u = Array(text.utf8)
        guard u.count == 16, u[8] == UInt8(ascii: "T"), u[15] == UInt8(ascii: "Z") else { return nil }
        func num(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r {
                guard u[i] >= 0x30, u[i] <= 0x39 else { return nil }
                v = v * 10 + Int(u[i] - 0x30)
            }
            return v
        }
        guard let y = num(0..<4), let mo = num(4..<6), let d = num(6..<8),
              let h = num(9..<11), let mi = num(11..<13), let s = num(13..<15) else { return nil }
        return epoch(year: y, month: mo, day: d, hour: h, minute: mi, second: s)
    }

    /// Parses an RFC 1123 date (`Tue, 27 Mar 2007 19:36:42 +0000` or `… GMT`).
    static func parseHTTPDate(_ text: String) -> Int64? {
        let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        var parts = text.split(separator: " ").map(String.init)
        if let first = parts.first, first.hasSuffix(",") { parts.removeFirst() }
        guard parts.count >= 4, let day = Int(parts[0]),
              let month = months.firstIndex(of: parts[1].lowercased()), let year = Int(parts[2]) else { return nil }
        let hms = parts[3].split(separator: ":").compactMap { Int($0) }
        guard hms.count == 3 else { return nil }
        var offset = 0
        if parts.count >= 5 {
            let zone = parts[4]
            if zone == "GMT" || zone == "UTC" || zone == "Z" {
                offset = 0
            } else if zone.count == 5, let sign = zone.first, sign == "+" || sign == "-",
                      let hhmm = Int(zone.dropFirst()), (0...2400).contains(hhmm) {
                offset = (hhmm / 100 * 3600 + hhmm % 100 * 60) * (sign == "-" ? -1 : 1)
            } else {
                return nil
            }
        }
        guard let local = epoch(year: year, month: month + 1, day: day, hour: hms[0], minute: hms[1], second: hms[2])
        else { return nil }
        return local - Int64(offset)
    }

    /// Formats seconds since the epoch as `yyyyMMdd'T'HHmmss'Z'`.
    static func formatISO8601Basic(_ seconds: Int64) -> String {
        TimeFormat.iso8601Basic(seconds: seconds)
    }

    private static func epoch(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int64? {
        // Bounded so that no client-sent date can overflow the arithmetic below.
        guard (1...9999).contains(year), (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour),
              (0...59).contains(minute), (0...60).contains(second) else { return nil }
        // Days from civil (Howard Hinnant).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }
}
