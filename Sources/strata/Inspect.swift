import ArgumentParser
import Foundation
import ObjectStore
import SegmentLog

/// `strata inspect`: read-only views of a data directory, safe while a server runs on it.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show segments, records, objects and index tables of a data directory (read-only).",
        discussion: """
        Never writes: the index is opened read-only, segments are scanned without repair, and \
        no recovery runs, so it is safe on the data directory of a running server. The active \
        segment may end in a record still being written; that is shown as its tail.
        """,
        subcommands: [Segments.self, Segment.self, Object.self, Index.self],
        defaultSubcommand: Segments.self
    )

    struct Options: ParsableArguments {
        @OptionGroup var data: DataOptions

        @Flag(name: .long, help: "Print one JSON document instead of a table.")
        var json = false

        func open() throws -> Inspector {
            do {
                try requireDataDirectory(data.data, command: "inspect")
                return try Inspector(directory: data.data)
            } catch let exit as ExitCode {
                throw exit
            } catch {
                printError("strata inspect: cannot open \(data.data): \(plainWords(error))")
                throw ExitCode(2)
            }
        }
    }

    struct Segments: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One row per segment: size, live and dead bytes, records, sealed or active.")

        @OptionGroup var options: Options

        func run() throws {
            let report = try options.open().segments()
            if options.json { return try printJSON(report) }
            var rows = [["SEGMENT", "FILE", "SIZE", "LIVE", "DEAD", "DEAD%", "RECORDS", "STATE"]]
            for s in report.segments {
                var state = s.state
                if let tail = s.tail { state += " (tail at \(s.validEnd): \(tail))" }
                rows.append([String(s.id), SegmentLog.fileName(s.id), humanBytes(s.size), humanBytes(s.liveBytes), humanBytes(s.deadBytes),
                             percent(s.deadPercent), String(s.records), state])
            }
            rows.append(["total", "", humanBytes(report.totalSize), humanBytes(report.totalLiveBytes),
                         humanBytes(report.totalDeadBytes), percent(report.totalDeadPercent), String(report.totalRecords),
                         "\(report.segments.count) segments"])
            print(table(rows, rightAligned: [0, 2, 3, 4, 5, 6]))
        }
    }

    struct Segment: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Dump one segment's records: offset, type, length, sequence, key, checksum.")

        @Argument(help: "The segment: its id as `inspect segments` shows it (3), or its file name (0000000000000003.seg).")
        var segment: String

        func validate() throws {
            guard Compact.segmentID(segment) != nil else {
                throw ValidationError("\(segment): not a segment id (3) or segment file name (0000000000000003.seg)")
            }
        }

        @Option(name: .long, help: "Show at most this many records.")
        var limit: Int?

        @OptionGroup var options: Options

        func run() throws {
            let inspector = try options.open()
            let id = Compact.segmentID(segment) ?? 0
            guard inspector.segmentIDs.contains(id) else {
                printError("strata inspect: no segment file \(SegmentLog.fileName(id)) in \(options.data.data)/segments")
                throw ExitCode(1)
            }
            let dump = try inspector.records(segment: id, limit: limit)
            if options.json { return try printJSON(dump) }
            var rows = [["OFFSET", "TYPE", "LENGTH", "SEQUENCE", "NAME", "CHECKSUM"]]
            for r in dump.records {
                rows.append([String(r.offset), r.type, String(r.payloadLength), r.sequence == 0 ? "-" : String(r.sequence),
                             describeName(r), r.checksum])
            }
            print(table(rows, rightAligned: [0, 2, 3]))
            if dump.truncated {
                print("… stopped after \(dump.records.count) records (--limit)")
            } else if let tail = dump.tail {
                print("valid records end at \(dump.validEnd ?? 0) of \(dump.size) bytes: \(tail)")
            } else {
                print("\(dump.records.count) records, \(dump.size) bytes, clean end")
            }
        }

        private func describeName(_ r: Inspector.RecordSummary) -> String {
            var parts: [String] = []
            if let bucket = r.bucket { parts.append(r.key.map { "\(bucket)/\($0)" } ?? bucket) }
            if let version = r.versionId { parts.append("version \(version)") }
            if r.deleteMarker == true { parts.append("delete marker") }
            if let encryption = r.encryption { parts.append(encryption) }
            if let lock = r.lock { parts.append("lock: \(lock)") }
            if let config = r.config { parts.append("config \(config)") }
            if let upload = r.uploadId { parts.append("upload \(upload)") }
            if let n = r.partNumber { parts.append("part \(n)") }
            return parts.isEmpty ? "" : parts.joined(separator: " ")
        }
    }

    struct Object: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an object's current version and where its bytes are.")

        @Argument(help: "The bucket.")
        var bucket: String

        @Argument(help: "The object key.")
        var key: String

        @OptionGroup var options: Options

        func run() throws {
            guard let o = try options.open().object(bucket: bucket, key: key) else {
                printError("strata inspect: no such object: \(bucket)/\(key)")
                throw ExitCode(1)
            }
            if options.json { return try printJSON(o) }
            var rows: [[String]] = [
                ["bucket", o.bucket], ["key", o.key], ["version", o.versionId.isEmpty ? "null" : o.versionId],
                ["size", "\(o.size) (\(humanBytes(o.size)))"], ["etag", o.etag], ["last modified", o.lastModified],
                ["sequence", String(o.sequence)],
                ["commit record", "segment file \(SegmentLog.fileName(o.commitRecord.segment)) offset \(o.commitRecord.offset) size \(o.commitRecord.length)"],
            ]
            if let upload = o.completedUpload { rows.append(["completed upload", upload]) }
            if let encryption = o.encryption { rows.append(["encryption", encryption]) }
            if let lock = o.lock { rows.append(["object lock", lock]) }
            if !o.partSizes.isEmpty { rows.append(["part sizes", o.partSizes.map(String.init).joined(separator: ", ")]) }
            for (name, value) in o.metadata.sorted(by: { $0.key < $1.key }) { rows.append(["metadata", "\(name): \(value)"]) }
            for (name, value) in o.checksums.sorted(by: { $0.key < $1.key }) { rows.append(["checksum", "\(name): \(value)"]) }
            print(table(rows, rightAligned: []))
            print("")
            var extents = [["SEGMENT", "FILE", "OFFSET", "LENGTH"]]
            for e in o.extents { extents.append([String(e.segment), SegmentLog.fileName(e.segment), String(e.offset), String(e.length)]) }
            print(table(extents, rightAligned: [0, 2, 3]))
        }
    }

    struct Index: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Entries per index table, the replay checkpoint, and the LMDB map's use.")

        @OptionGroup var options: Options

        func run() throws {
            let report = try options.open().index()
            if options.json { return try printJSON(report) }
            var rows = [["TABLE", "ENTRIES"]]
            for t in report.tables { rows.append([t.name, String(t.entries)]) }
            print(table(rows, rightAligned: [1]))
            print("")
            var facts: [[String]] = []
            if let cp = report.checkpoint {
                facts.append(["checkpoint", "segment file \(SegmentLog.fileName(cp.segment)) offset \(cp.offset)"])
                facts.append(["last sequence", String(cp.lastSequence)])
            } else {
                facts.append(["checkpoint", "none (nothing applied yet)"])
            }
            facts.append(["map used", "\(humanBytes(UInt64(report.mapUsedBytes))) of \(humanBytes(UInt64(report.mapSize))) (page size \(report.pageSize))"])
            facts.append(["last transaction", String(report.lastTransaction)])
            facts.append(["readers", "\(report.readers) of \(report.maxReaders) slots used"])
            print(table(facts, rightAligned: []))
        }
    }
}

/// Prints `value` as one JSON document with sorted keys.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// `512 B`, `1.5 KiB`, `3.2 MiB`, `1.0 GiB`.
func humanBytes(_ n: UInt64) -> String {
    if n < 1024 { return "\(n) B" }
    let units = ["KiB", "MiB", "GiB", "TiB", "PiB"]
    var value = Double(n) / 1024
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return String(format: "%.1f %@", value, units[unit])
}

private func percent(_ p: Double) -> String { String(format: "%.1f%%", p) }

/// Columns padded to their widest cell; `rightAligned` columns (numbers) are padded on the left.
func table(_ rows: [[String]], rightAligned: Set<Int>) -> String {
    let columns = rows.map(\.count).max() ?? 0
    var widths = [Int](repeating: 0, count: columns)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    return rows.map { row in
        row.enumerated().map { i, cell in
            let pad = String(repeating: " ", count: widths[i] - cell.count)
            if i == row.count - 1 && !rightAligned.contains(i) { return cell }
            return rightAligned.contains(i) ? pad + cell : cell + pad
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}
