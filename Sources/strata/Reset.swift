import ArgumentParser
import Foundation
import ObjectStore
import S3Server

/// `strata reset`: empties a store, online (`--server`, POST /_strata/reset) or offline
/// (`--data`, a stopped data directory).
struct Reset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Empty the store: every bucket, object, version, upload and bucket setting goes.",
        discussion: """
        For test suites that start each test from nothing. Users (--users), the server's \
        settings and fault rules stay. The reset is one commit in the log: it is durable \
        before this command returns and survives a crash or strata recover \
        --rebuild-index. The bytes of what was removed become dead space that compaction \
        reclaims. Online (--server, signed with the root credentials) the buckets the \
        server was started with (--bucket) are made again, empty, and requests that \
        arrive during the reset are answered 503 SlowDown, which clients retry.
        """
    )

    @OptionGroup var options: DataOptions
    @OptionGroup var admin: AdminOptions

    func run() async throws {
        if let server = admin.server {
            do {
                _ = try await admin.client(for: server).send(.POST, "/_strata/reset")
            } catch let failure as AdminClient.Failure {
                printError("strata reset: \(failure)")
                throw ExitCode(1)
            }
            print("reset the store of \(server)")
            return
        }
        try requireDataDirectory(options.data, command: "reset")
        guard FileManager.default.fileExists(atPath: options.data + "/segments") else {
            printError("strata reset: \(options.data) has no segments directory")
            throw ExitCode(2)
        }
        do {
            let store = try ObjectStore(directory: options.data)
            do {
                try await store.reset()
            } catch {
                try? store.close()
                throw error
            }
            try store.close()
        } catch {
            printError("strata reset: \(plainWords(error))")
            throw ExitCode(1)
        }
        print("reset the store in \(options.data)")
    }
}
