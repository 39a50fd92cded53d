import ArgumentParser
import Foundation
import ObjectIndex
import ObjectStore
import SegmentLog

@main
struct Strata: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "An S3-compatible object store on an append-only log.",
        subcommands: [Serve.self, Recover.self]
    )
}

struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "The data directory (segments/ and index/).")
    var data: String = "./data"
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Open the data directory and serve S3 on it.")

    @OptionGroup var options: DataOptions

    func run() async throws {
        let store = try ObjectStore(directory: options.data)
        print(describe(store.recovery, directory: options.data))
        try store.close()
        // The HTTP front is issue 3; until it lands, say so instead of pretending to serve.
        printError("strata serve: the S3 HTTP front is not built yet; the data directory was opened and recovered.")
        throw ExitCode(1)
    }
}

struct Recover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay the log into the index, cutting off a torn tail; or rebuild the index from segments alone.",
        discussion: """
        Without options this does what start-up does: replay the records after the index's \
        checkpoint. With --rebuild-index the index is emptied and rebuilt from every segment; \
        the result equals the index the live store had. Run it on a stopped data directory.
        """
    )

    @OptionGroup var options: DataOptions

    @Flag(name: .long, help: "Drop the index and rebuild it from the segments alone.")
    var rebuildIndex = false

    func run() async throws {
        guard FileManager.default.fileExists(atPath: options.data + "/segments") else {
            printError("strata recover: \(options.data) has no segments directory")
            throw ExitCode(2)
        }
        let start = Date()
        let report: Recovery.Report
        if rebuildIndex {
            try? FileManager.default.removeItem(atPath: options.data + "/index")
            try FileManager.default.createDirectory(atPath: options.data + "/index", withIntermediateDirectories: true)
            let log = try SegmentLog(directory: options.data + "/segments")
            let index = try ObjectIndex(path: options.data + "/index")
            report = try Recovery.rebuild(log: log, index: index, repair: true)
            try index.environment.sync()
        } else {
            let store = try ObjectStore(directory: options.data)
            report = store.recovery
            try store.close()
        }
        print(describe(report, directory: options.data))
        print(String(format: "done in %.2f s", Date().timeIntervalSince(start)))
    }
}

func describe(_ r: Recovery.Report, directory: String) -> String {
    var lines = ["data directory: \(directory)"]
    lines.append("segments scanned: \(r.segmentsScanned), records scanned: \(r.recordsScanned), commits applied: \(r.recordsApplied)")
    lines.append("log end: \(r.end.map { "\($0)" } ?? "empty"), last sequence: \(r.lastSequence)")
    if let torn = r.tornTail { lines.append("torn tail cut at \(torn.position): \(torn.reason)") }
    for id in r.tornSegments { lines.append("removed segment \(id) with a torn header") }
    return lines.joined(separator: "\n")
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
