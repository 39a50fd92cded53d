import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The `process_*` metrics every Prometheus client library exports, with the names,
/// types and units dashboards expect: CPU seconds, resident and virtual memory, open and
/// maximum file descriptors, and the start time. Read from /proc when `/metrics` is
/// scraped; on a system without /proc the lines are left out.
enum ProcessMetrics {
    static func exposition() -> String {
        var text = ""
        func metric(_ name: String, _ type: String, _ help: String, _ value: Double?) {
            guard let value else { return }
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(format(value))\n"
        }
        let stat = statFields()
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        metric("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
               stat.flatMap { s in field(s, 14).flatMap { u in field(s, 15).map { (u + $0) / ticks } } })
        metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
               stat.flatMap { field($0, 24) }.map { $0 * pageSize })
        metric("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", stat.flatMap { field($0, 23) })
        metric("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
               stat.flatMap { field($0, 22) }.flatMap { started in bootTime().map { $0 + started / ticks } })
        metric("process_open_fds", "gauge", "Number of open file descriptors.",
               (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")).map { Double($0.count) })
        var limit = rlimit()
        metric("process_max_fds", "gauge", "Maximum number of open file descriptors.",
               getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Double(limit.rlim_cur) : nil)
        return text
    }

    /// The fields of /proc/self/stat after the command name (which may hold spaces and
    /// parentheses, so it is skipped up to its last `)`); `field(_:3)` is the state.
    private static func statFields() -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// Field `number` of /proc/self/stat as proc(5) numbers them (1 is the pid).
    private static func field(_ fields: [Substring], _ number: Int) -> Double? {
        let index = number - 3
        return fields.indices.contains(index) ? Double(fields[index].trimmingCharacters(in: .whitespacesAndNewlines)) : nil
    }

    /// The boot time in seconds since the epoch (`btime` in /proc/stat).
    private static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6)) }
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
