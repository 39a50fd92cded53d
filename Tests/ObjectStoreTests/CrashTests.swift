import Crypto
import Foundation
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// Process-level crash test: a child process writes and deletes concurrently and reports
/// each operation before it starts and when it is acknowledged; it is killed with
/// SIGKILL at a random moment. After reopening, every key holds exactly its last
/// acknowledged state, or the state of the one operation that was in flight on it
/// (durable but not yet reported) — never anything else, never a partial object.
final class CrashTests: XCTestCase {
    func testEveryAcknowledgedWriteSurvivesSIGKILL() async throws {
        let binary = try writerBinary()
        let dir = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SplitMix(seed: UInt64(Date().timeIntervalSince1970))
        // Expected state per key: the last acknowledged op, plus possibly one in flight.
        var acked: [String: String?] = [:]  // key → md5 (nil: deleted)
        for cycle in 0..<5 {
            let (lines, killedAfter) = try runAndKill(binary, dir: dir, seed: UInt64(cycle * 1000 + 7), after: 0.3 + Double(rng.next(1000)) / 1000)
            var started: [String: (key: String, md5: String?)] = [:]
            var inFlight: [String: String?] = [:]
            for line in lines {
                let f = line.split(separator: " ").map(String.init)
                if f.first == "START" {
                    started[f[1] + " " + f[2]] = (f[4], f[3] == "PUT" ? f[5] : nil)
                    inFlight[f[4]] = f[3] == "PUT" ? f[5] : nil as String?
                } else if f.first == "ACK", let op = started.removeValue(forKey: f[1] + " " + f[2]) {
                    acked[op.key] = op.md5
                    inFlight.removeValue(forKey: op.key)
                }
            }
            let ackCount = lines.filter { $0.hasPrefix("ACK") }.count
            XCTAssertGreaterThan(ackCount, 0, "cycle \(cycle): the writer acknowledged nothing in \(killedAfter)s")
            let store = try ObjectStore(directory: dir)
            for (key, state) in acked.merging(inFlight.mapValues { _ in nil }, uniquingKeysWith: { a, _ in a }) {
                let actual: String?
                do {
                    let data = try await store.get("crash", key)
                    actual = Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined()
                } catch let e as StoreError where e.code == .noSuchKey {
                    actual = nil
                }
                var allowed: [String?] = [state ?? nil]
                if let flight = inFlight[key] { allowed.append(flight) }
                if acked[key] == nil { allowed.append(nil) }  // never acknowledged: may be absent
                XCTAssertTrue(allowed.contains { $0 == actual }, "cycle \(cycle) key \(key): \(actual ?? "absent") not in \(allowed)")
                // What the store holds now is the new baseline for the next cycle.
                acked[key] = actual
            }
            try store.close()
            let (live, rebuilt) = try liveAndRebuiltIndex(dir)
            XCTAssertEqual(live, rebuilt, "cycle \(cycle): rebuild equals the live index")
        }
    }

    /// Snapshots under SIGKILL: the writer saves "base" once, then restores it, saves and
    /// deletes other snapshots and compacts everything while four tasks write. After each
    /// kill the store opens, a rebuild gives the same index (snapshot views included),
    /// verify finds nothing wrong, every acknowledged save or delete of a snapshot holds,
    /// and restoring "base" gives back exactly what it saved, whatever compaction moved.
    func testSnapshotsSurviveSIGKILLAmidRestoresSavesAndCompaction() async throws {
        let binary = try writerBinary()
        let dir = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SplitMix(seed: UInt64(Date().timeIntervalSince1970))
        let seed: UInt64 = 42
        for cycle in 0..<3 {
            let (lines, killedAfter) = try runAndKill(binary, dir: dir, seed: seed, after: 0.5 + Double(rng.next(1000)) / 1000,
                                                       snapshots: true)
            if cycle == 0 { XCTAssertTrue(lines.contains("BASE SAVED"), "the writer saved base before it was killed") }
            XCTAssertGreaterThan(lines.filter { $0.hasPrefix("ACK snap") }.count, 0,
                                 "cycle \(cycle): no snapshot operation acknowledged in \(killedAfter)s")
            // The snapshot task's operations are sequential: the last START may be in flight.
            var exists: [String: Bool] = [:]  // name → after its last acknowledged save or delete
            var inFlight: String?
            var pending: (n: String, name: String, save: Bool)?
            for line in lines where line.hasPrefix("START snap") || line.hasPrefix("ACK snap") {
                let f = line.split(separator: " ").map(String.init)
                if f[0] == "START" {
                    pending = f[3] == "SAVE" || f[3] == "DELETE" ? (f[2], f[4], f[3] == "SAVE") : nil
                    inFlight = pending?.name
                } else if let p = pending, p.n == f[2] {
                    exists[p.name] = p.save
                    pending = nil
                    inFlight = nil
                }
            }
            let store = try ObjectStore(directory: dir)
            let names = Set(try await store.snapshots().map(\.name))
            XCTAssertTrue(names.contains("base"), "cycle \(cycle): \(names)")
            for (name, saved) in exists where name != inFlight {
                XCTAssertEqual(names.contains(name), saved, "cycle \(cycle): snapshot \(name)")
            }
            try await store.restoreSnapshot("base")
            for task in 0..<4 {
                for key in 0..<8 {
                    let data = try await store.get("crash", "t\(task)/k\(key)")
                    XCTAssertEqual(data, Self.content(seed: seed, task: task, n: 1_000_000 + key, size: 1000 + key * 700),
                                   "cycle \(cycle): t\(task)/k\(key) as base saved it")
                }
            }
            try store.close()
            let (live, rebuilt) = try liveAndRebuiltIndex(dir)
            XCTAssertEqual(live, rebuilt, "cycle \(cycle): rebuild equals the live index")
            XCTAssertEqual(try Verifier(directory: dir).run().problems.filter { $0.severity == .error }, [], "cycle \(cycle)")
        }
    }

    /// The writer's content function (Tools/CrashWriter/main.swift).
    private static func content(seed: UInt64, task: Int, n: Int, size: Int) -> [UInt8] {
        var x = seed &+ UInt64(task) &* 1_000_003 &+ UInt64(n) &* 7919
        return (0..<size).map { _ in
            x = x &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: x >> 33)
        }
    }

    private func writerBinary() throws -> String {
        let writer = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("strata-crashwriter").path
        let fallback = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug/strata-crashwriter").standardized.path
        let binary = FileManager.default.isExecutableFile(atPath: writer) ? writer : fallback
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary) || ProcessInfo.processInfo.environment["CI"] != nil, "build strata-crashwriter first")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: binary), "strata-crashwriter not found at \(binary)")
        return binary
    }

    private func runAndKill(_ binary: String, dir: String, seed: UInt64, after seconds: Double,
                            snapshots: Bool = false) throws -> ([String], Double) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [dir, String(seed)] + (snapshots ? ["snapshots"] : [])
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        // Wait until it is writing, then let it run for a while, then SIGKILL.
        let deadline = Date().addingTimeInterval(30)
        var output = Data()
        let handle = pipe.fileHandleForReading
        while !String(decoding: output, as: UTF8.self).contains("READY") && Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            output.append(chunk)
        }
        Thread.sleep(forTimeInterval: seconds)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        output.append(handle.readDataToEndOfFile())
        let text = String(decoding: output, as: UTF8.self)
        // A line cut by the kill is not a report.
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if !text.hasSuffix("\n") { lines.removeLast() }
        return (lines.filter { !$0.isEmpty }, seconds)
    }
}
