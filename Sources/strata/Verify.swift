import ArgumentParser
import Foundation
import ObjectStore

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that the index and the segments of a stopped data directory agree.",
        discussion: """
        Checks that every index entry points at its commit record and at live data bytes, \
        that the live byte counters match the entries, and that a rebuild from the segments \
        gives exactly the index. --deep also checks the checksum of every record of every \
        segment. Nothing is changed: to repair, use `strata recover --rebuild-index`. \
        Exits 0 when only warnings were found (a torn tail recovery cuts off), 1 on any error.
        """
    )

    @OptionGroup var options: DataOptions

    @Flag(name: .long, help: "Also read every record of every segment and check its checksums.")
    var deep = false

    @Flag(name: .long, help: "Print the report as a JSON document.")
    var json = false

    func run() async throws {
        try requireDataDirectory(options.data, command: "verify")
        let report: VerificationReport
        do {
            report = try Verifier(directory: options.data, deep: deep).run()
        } catch {
            printError("strata verify: \(plainWords(error))")
            throw ExitCode(2)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(VerifyDocument(report))
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(describe(report))
        }
        if !report.isHealthy { throw ExitCode(1) }
    }

    private func describe(_ r: VerificationReport) -> String {
        let c = r.counts
        var lines = ["data directory: \(r.directory)"]
        let entries = c.entries.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        lines.append("segments: \(c.segments); index entries: \(entries)")
        lines.append("checked: \(c.commitRecords) commit records, \(c.extents) extents, \(c.liveCounters) segment live counters, \(c.rebuiltEntries) rebuilt entries")
        if r.deep { lines.append("deep scan: \(c.scannedRecords) records, \(c.scannedBytes) bytes") }
        for p in r.problems { lines.append("\(p.severity.rawValue): \(p)") }
        lines.append(r.isHealthy
                     ? "OK" + (r.warnings.isEmpty ? "" : " (\(r.warnings.count) warnings)")
                     : "FAILED: \(r.errors.count) errors, \(r.warnings.count) warnings")
        return lines.joined(separator: "\n")
    }
}

/// The `--json` form of a report.
private struct VerifyDocument: Encodable {
    struct Problem: Encodable {
        var severity: String
        var code: String
        var message: String
        var table: String?
        var key: String?
        var segment: UInt64?
        var offset: UInt64?
    }

    var directory: String
    var deep: Bool
    var ok: Bool
    var counts: VerificationReport.Counts
    var errors: Int
    var warnings: Int
    var problems: [Problem]

    init(_ r: VerificationReport) {
        directory = r.directory
        deep = r.deep
        ok = r.isHealthy
        counts = r.counts
        errors = r.errors.count
        warnings = r.warnings.count
        problems = r.problems.map { p in
            Problem(severity: p.severity.rawValue, code: p.code, message: p.description, table: p.table?.rawValue,
                    // Every problem with a key names its table.
                    key: p.key.flatMap { key in p.table.map { VerificationProblem.describe(key: key, table: $0) } },
                    segment: p.location?.segment, offset: p.location?.offset ?? nil)
        }
    }
}
