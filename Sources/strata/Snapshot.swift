import ArgumentParser
import Foundation
import NIOHTTP1
import ObjectStore

/// `strata snapshot save|list|restore|delete`: named snapshots of a store, online
/// (`--server`, `/_strata/snapshots`) or offline (`--data`, a stopped data directory).
struct Snapshot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Save the store's state under a name and return to it later, in milliseconds.",
        discussion: """
        A snapshot holds every bucket, object, version, bucket setting and open multipart \
        upload; users and server settings are not part of it. Saving and restoring copy \
        index entries, never object bytes, and go through the log like any write: a \
        snapshot survives a restart, a crash and strata recover --rebuild-index, and \
        compaction keeps the bytes it refers to. A store keeps at most 16 snapshots. \
        Online (--server, signed with the root credentials) requests that arrive during a \
        restore are answered 503 SlowDown, which clients retry.
        """,
        subcommands: [Save.self, List.self, Restore.self, Delete.self]
    )

    /// Where the snapshots are: a running server or a stopped data directory.
    struct Target: ParsableArguments {
        @OptionGroup var options: DataOptions
        @OptionGroup var admin: AdminOptions

        /// Runs `online` against `--server`, else `offline` on the store in `--data`.
        func run<T>(_ command: String, online: (AdminClient) async throws -> T,
                    offline: (ObjectStore) async throws -> T) async throws -> T {
            do {
                if let server = admin.server { return try await online(try admin.client(for: server)) }
                try requireDataDirectory(options.data, command: "snapshot")
                guard FileManager.default.fileExists(atPath: options.data + "/segments") else {
                    printError("strata snapshot \(command): \(options.data) has no segments directory")
                    throw ExitCode(2)
                }
                let store = try ObjectStore(directory: options.data)
                do {
                    let result = try await offline(store)
                    try store.close()
                    return result
                } catch {
                    try? store.close()
                    throw error
                }
            } catch let exit as ExitCode {
                throw exit
            } catch let failure as AdminClient.Failure {
                printError("strata snapshot \(command): \(failure)")
                throw ExitCode(1)
            } catch {
                printError("strata snapshot \(command): \(plainWords(error))")
                throw ExitCode(1)
            }
        }
    }

    struct Save: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Save the store's state as NAME (replacing a snapshot of that name).")
        @Argument(help: "1 to 64 letters, digits, '.', '_' or '-'.") var name: String
        @OptionGroup var target: Target

        func run() async throws {
            let info = try await target.run("save", online: { client in
                try Snapshot.decode(try await client.send(.POST, "/_strata/snapshots/" + name))
            }, offline: { store in try await store.saveSnapshot(name).jsonObject })
            print("saved snapshot \(name): \(Snapshot.summary(info))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the snapshots: name, time, buckets, objects and the bytes each refers to.")
        @Flag(name: .long, help: "Print {\"snapshots\": [...]} as JSON.") var json = false
        @OptionGroup var target: Target

        func run() async throws {
            let list = try await target.run("list", online: { client in
                let body = try Snapshot.decode(try await client.send(.GET, "/_strata/snapshots"))
                return body["snapshots"] as? [[String: Any]] ?? []
            }, offline: { store in try await store.snapshots().map(\.jsonObject) })
            if json {
                let data = try JSONSerialization.data(withJSONObject: ["snapshots": list], options: [.sortedKeys, .prettyPrinted])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            guard !list.isEmpty else {
                print("no snapshots")
                return
            }
            let rows = list.map { s in
                ["\(s["name"] ?? "")", "\(s["created"] ?? "")", "\(s["buckets"] ?? "")", "\(s["objects"] ?? "")", "\(s["bytes"] ?? "")"]
            }
            let header = ["NAME", "CREATED", "BUCKETS", "OBJECTS", "BYTES"]
            let widths = (0..<header.count).map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
            for row in [header] + rows {
                let line = zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                print(line.replacingOccurrences(of: " +$", with: "", options: .regularExpression))
            }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Return the store to the state saved as NAME; everything since is undone.")
        @Argument(help: "The snapshot's name.") var name: String
        @OptionGroup var target: Target

        func run() async throws {
            let info = try await target.run("restore", online: { client in
                try Snapshot.decode(try await client.send(.POST, "/_strata/snapshots/\(name)/restore"))
            }, offline: { store in try await store.restoreSnapshot(name).jsonObject })
            print("restored snapshot \(name): \(Snapshot.summary(info))")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete the snapshot NAME; what only it referred to becomes space compaction reclaims.")
        @Argument(help: "The snapshot's name.") var name: String
        @OptionGroup var target: Target

        func run() async throws {
            try await target.run("delete", online: { client in
                _ = try await client.send(.DELETE, "/_strata/snapshots/" + name)
            }, offline: { store in try await store.deleteSnapshot(name) })
            print("deleted snapshot \(name)")
        }
    }

    static func decode(_ body: [UInt8]) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw AdminClient.Failure("the server's answer is not a JSON object")
        }
        return object
    }

    static func summary(_ info: [String: Any]) -> String {
        "\(info["buckets"] ?? 0) buckets, \(info["objects"] ?? 0) objects, \(info["bytes"] ?? 0) bytes, saved \(info["created"] ?? "")"
    }
}
