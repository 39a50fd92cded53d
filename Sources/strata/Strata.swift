import ArgumentParser
import Foundation
import ObjectIndex
import ObjectStore
import S3Server
import SegmentLog

@main
struct Strata: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "An S3-compatible object store on an append-only log.",
        subcommands: [Serve.self, Compact.self, Recover.self, Inspect.self, Verify.self]
    )
}

struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "The data directory (segments/ and index/).")
    var data: String = "./data"
}

/// The root credentials: options, else `STRATA_ACCESS_KEY` / `STRATA_SECRET_KEY`, else
/// the printed defaults.
struct RootCredentials: ParsableArguments {
    @Option(name: .long, help: "Root access key id (default: $STRATA_ACCESS_KEY, else \(S3ServerConfiguration.defaultAccessKey)).")
    var accessKey: String?

    @Option(name: .long, help: "Root secret key (default: $STRATA_SECRET_KEY, else \(S3ServerConfiguration.defaultSecretKey)).")
    var secretKey: String?

    var resolved: (accessKey: String, secretKey: String) {
        let environment = ProcessInfo.processInfo.environment
        return (accessKey ?? environment["STRATA_ACCESS_KEY"] ?? S3ServerConfiguration.defaultAccessKey,
                secretKey ?? environment["STRATA_SECRET_KEY"] ?? S3ServerConfiguration.defaultSecretKey)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Open the data directory and serve S3 on it.")

    @OptionGroup var options: DataOptions

    @Option(name: .long, help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "TCP port to listen on (0 picks a free one).")
    var port = 9000

    @OptionGroup var credentials: RootCredentials

    @Option(name: .long, help: "The region requests are signed for.")
    var region = "us-east-1"

    @Option(name: .long, help: "Base domain for virtual-hosted-style requests (bucket.DOMAIN); path style always works.")
    var domain: String?

    @Option(name: .long, help: "Abort multipart uploads older than this many seconds (a bucket lifecycle rule AbortIncompleteMultipartUpload overrides it per key prefix).")
    var abortUploadsAfter: Int64 = 86_400

    @Option(name: .long, help: "Roll over to a new segment file at this size (e.g. 1G, 64M).")
    var segmentSize = "1G"

    @Option(name: .long, help: "Background compaction takes sealed segments whose dead ratio is at least this (0 to 1).")
    var compactThreshold = 0.5

    @Option(name: .long, help: "Seconds between background compaction checks; 0 turns background compaction off.")
    var compactInterval: Int64 = 60

    func validate() throws {
        guard let size = parseByteSize(segmentSize), size >= 1 << 16, size <= 1 << 40 else {
            throw ValidationError("--segment-size must be from 64K to 1T")
        }
        guard (0...1).contains(compactThreshold) else { throw ValidationError("--compact-threshold must be from 0 to 1") }
        guard compactInterval >= 0 else { throw ValidationError("--compact-interval must be 0 or more") }
    }

    func run() async throws {
        let (accessKey, secretKey) = credentials.resolved
        var storeOptions = ObjectStore.Options()
        storeOptions.segments.maxSegmentSize = parseByteSize(segmentSize) ?? storeOptions.segments.maxSegmentSize
        let store = try ObjectStore(directory: options.data, options: storeOptions)
        printNow(describe(store.recovery, directory: options.data))
        let configuration = S3ServerConfiguration(host: host, port: port, region: region, domain: domain,
                                                  credentials: [accessKey: secretKey],
                                                  abandonedUploadMaxAgeSeconds: abortUploadsAfter,
                                                  uploadSweepIntervalSeconds: max(1, min(600, abortUploadsAfter / 4)),
                                                  compactionThreshold: compactThreshold, compactionIntervalSeconds: compactInterval)
        let server: S3HTTPServer
        do {
            server = try await S3HTTPServer.start(store: store, configuration: configuration)
        } catch {
            try? store.close()
            printError("strata serve: cannot listen on \(host):\(port): \(error)")
            throw ExitCode(1)
        }
        let endpoint = "http://\(host.contains(":") ? "[\(host)]" : host):\(server.port)"
        let isDefault = accessKey == S3ServerConfiguration.defaultAccessKey && secretKey == S3ServerConfiguration.defaultSecretKey
        printNow("""
            Strata S3 endpoint listening on \(endpoint)
              region      \(region)
              access key  \(accessKey)
              secret key  \(isDefault ? secretKey : String(repeating: "*", count: 8))
              try:        AWS_ACCESS_KEY_ID=\(accessKey) AWS_SECRET_ACCESS_KEY=\(isDefault ? secretKey : "…") \
            aws --endpoint-url \(endpoint) s3 ls
            """)

        // SIGINT/SIGTERM: stop accepting, close connections, sync and close the store.
        let signals = [SIGINT, SIGTERM].map { signo -> DispatchSourceSignal in
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
            source.setEventHandler { Task { await server.stop() } }
            source.resume()
            return source
        }
        await server.run()
        signals.forEach { $0.cancel() }
        try store.close()
        printNow("Strata stopped.")
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

/// Prints straight to the standard output, unbuffered, so a parent process reading a
/// pipe sees the line (for example the listening address) at once.
func printNow(_ message: String) {
    FileHandle.standardOutput.write(Data((message + "\n").utf8))
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
