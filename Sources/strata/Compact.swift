import ArgumentParser
import Foundation
import ObjectStore
import S3Server
import SegmentLog
#if canImport(Glibc)
import Glibc
#endif

struct Compact: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reclaim the space of overwritten and deleted data.",
        discussion: """
        Copies what is still live in mostly-dead sealed segments to the end of the log, \
        switches the index to the copies and deletes those segments. Offline on a stopped \
        data directory (--data), or online by asking a running server (--server, signed \
        with the root credentials); reads and writes go on meanwhile. A crash at any point \
        recovers to a correct state. A running server also compacts in the background \
        (strata serve --compact-threshold / --compact-interval).
        """
    )

    @OptionGroup var options: DataOptions

    @Option(name: .long, help: "Compact sealed segments whose dead ratio is at least this (0 to 1).")
    var threshold: Double = 0.5

    @Option(name: .long, help: "Compact this segment whatever its dead ratio: its id as `strata inspect segments` shows it, or its file name (0000000000000003.seg); repeatable; overrides --threshold.")
    var segment: [String] = []

    /// The ids of `--segment`.
    private var segmentIDs: [UInt64] {
        segment.compactMap(Self.segmentID)
    }

    /// `3`, `0000000000000003.seg` or `DATA/segments/0000000000000003.seg` → 3.
    static func segmentID(_ text: String) -> UInt64? {
        let name = text.split(separator: "/").last.map(String.init) ?? text
        if name.hasSuffix(".seg") { return UInt64(name.dropLast(4), radix: 16) }
        return UInt64(name)
    }

    @Option(name: .long, help: "Copy at most this many bytes per second (e.g. 50M, 1G).")
    var bandwidth: String?

    @OptionGroup var admin: AdminOptions

    @Flag(name: .long, help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard (0...1).contains(threshold) else { throw ValidationError("--threshold must be from 0 to 1") }
        for text in segment where Self.segmentID(text) == nil {
            throw ValidationError("--segment \(text): not a segment id (3) or segment file name (0000000000000003.seg)")
        }
        if let bandwidth, parseByteSize(bandwidth) == nil {
            throw ValidationError("--bandwidth must be a byte count such as 1048576, 50M or 1G")
        }
    }

    func run() async throws {
        let bytesPerSecond = bandwidth.flatMap(parseByteSize)
        let report: CompactionReport
        if let server = admin.server {
            do {
                report = try await remote(try admin.client(for: server), bytesPerSecond: bytesPerSecond)
            } catch let failure as AdminClient.Failure {
                printError("strata compact: \(failure)")
                throw ExitCode(1)
            }
        } else {
            try requireDataDirectory(options.data, command: "compact")
            guard FileManager.default.fileExists(atPath: options.data + "/segments") else {
                printError("strata compact: \(options.data) has no segments directory")
                throw ExitCode(2)
            }
            let store: ObjectStore
            do {
                store = try ObjectStore(directory: options.data)
            } catch {
                printError("strata compact: \(plainWords(error))")
                throw ExitCode(1)
            }
            let bar = ProgressBar(enabled: !json && isatty(STDERR_FILENO) != 0)
            do {
                report = try await store.compact(CompactionOptions(threshold: threshold, segments: segment.isEmpty ? nil : segmentIDs,
                                                                   bytesPerSecond: bytesPerSecond)) { bar.show($0) }
            } catch {
                bar.finish()
                try? store.close()
                printError("strata compact: \(plainWords(error))")
                throw ExitCode(1)
            }
            bar.finish()
            try store.close()
        }
        if json {
            try printJSON(report)
        } else {
            print(describe(report))
        }
    }

    /// POST /_strata/compact on the server.
    private func remote(_ client: AdminClient, bytesPerSecond: UInt64?) async throws -> CompactionReport {
        var query: [String] = ["threshold=\(threshold)"]
        if !segment.isEmpty { query.append("segment=" + segmentIDs.map(String.init).joined(separator: "%2C")) }
        if let bytesPerSecond { query.append("bandwidth=\(bytesPerSecond)") }
        let body = try await client.post("/_strata/compact", rawQuery: query.joined(separator: "&"))
        do {
            return try JSONDecoder().decode(CompactionReport.self, from: Data(body))
        } catch {
            throw AdminClient.Failure("\(client.url) answered with something other than a compaction report (is it a strata server?)")
        }
    }

    private func describe(_ r: CompactionReport) -> String {
        guard !r.victims.isEmpty else {
            return "nothing to compact: no sealed segment has a dead ratio of \(threshold) or more"
        }
        var lines = [
            "segments compacted: \(r.removed.map(SegmentLog.fileName).joined(separator: " "))",
            "entries moved:      \(r.entriesMoved)",
            "bytes copied:       \(humanBytes(r.bytesCopied))",
            "space reclaimed:    \(r.bytesReclaimed < 0 ? "-" : "")\(humanBytes(UInt64(abs(r.bytesReclaimed))))",
            String(format: "time:               %.2f s", r.seconds),
        ]
        if !r.kept.isEmpty {
            lines.append("kept for a later run (a multipart completion pointed into them): \(r.kept.map(SegmentLog.fileName).joined(separator: " "))")
        }
        return lines.joined(separator: "\n")
    }
}

/// `1048576`, `64K`, `50M`, `1G` (powers of 1024) → bytes.
func parseByteSize(_ text: String) -> UInt64? {
    let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
    var digits = Substring(text.uppercased())
    if digits.hasSuffix("IB") || digits.hasSuffix("B") { digits = digits.dropLast(digits.hasSuffix("IB") ? 2 : 1) }
    var factor: UInt64 = 1
    if let last = digits.last, let unit = units[last] {
        factor = unit
        digits = digits.dropLast()
    }
    guard let value = UInt64(digits), value > 0 else { return nil }
    let (product, overflow) = value.multipliedReportingOverflow(by: factor)
    return overflow ? nil : product
}

/// A one-line progress bar on standard error, redrawn in place.
final class ProgressBar: @unchecked Sendable {
    private let enabled: Bool
    private let lock = NSLock()
    private var drawn = false

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ p: CompactionProgress) {
        guard enabled, p.bytesTotal > 0 else { return }
        // The total is an estimate, so the bar stops at full.
        let width = 30, filled = Int(min(UInt64(width), UInt64(width) * p.bytesCopied / p.bytesTotal))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        lock.withLock {
            FileHandle.standardError.write(Data("\r[\(bar)] \(humanBytes(p.bytesCopied)) of ~\(humanBytes(p.bytesTotal)) copied, \(p.entriesDone) entries".utf8))
            drawn = true
        }
    }

    func finish() {
        lock.withLock { if drawn { FileHandle.standardError.write(Data("\n".utf8)) } }
    }
}
