// strata-crashwriter DATA_DIR SEED [snapshots]: writes to a store until it is killed, and
// reports every operation on stdout before it starts ("START …") and once it is
// acknowledged durable ("ACK …"). The crash tests kill it with SIGKILL and check the
// reports against what a reopened store holds.
//
// With `snapshots`, it first writes every key once (content from the seed and task, n =
// 1000000 + key) and saves the snapshot "base" ("BASE SAVED"), then, beside the writers, a fifth
// task keeps restoring "base", saving and deleting "s0"…"s3" and compacting everything.
import Crypto
import Glibc
import ObjectStore

func say(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

func content(seed: UInt64, task: Int, n: Int, size: Int) -> [UInt8] {
    var x = seed &+ UInt64(task) &* 1_000_003 &+ UInt64(n) &* 7919
    return (0..<size).map { _ in
        x = x &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: x >> 33)
    }
}

let args = CommandLine.arguments
guard args.count == 3 || (args.count == 4 && args[3] == "snapshots"), let seed = UInt64(args[2]) else {
    say("usage: strata-crashwriter DATA_DIR SEED [snapshots]")
    exit(2)
}
let snapshots = args.count == 4
let store = try ObjectStore(directory: args[1], options: .init(segments: .init(maxSegmentSize: 256 * 1024), dataRecordSize: 16 * 1024, ioThreads: 2))
do {
    try await store.createBucket("crash")
} catch let e as StoreError where e.code == .bucketAlreadyOwnedByYou {}
/// The content every key has in the snapshot "base".
func baseContent(seed: UInt64, task: Int, key: Int) -> [UInt8] { content(seed: seed, task: task, n: 1_000_000 + key, size: 1000 + key * 700) }

if snapshots, try await store.snapshots().isEmpty {
    for task in 0..<4 {
        for key in 0..<8 { try await store.putObject(bucket: "crash", key: "t\(task)/k\(key)", data: baseContent(seed: seed, task: task, key: key)) }
    }
    try await store.saveSnapshot("base")
    say("BASE SAVED")
}
say("READY")
try await withThrowingTaskGroup(of: Void.self) { group in
    if snapshots {
        group.addTask {
            for n in 0..<1_000_000 {
                let name = "s\(n % 4)"
                switch n % 5 {
                case 0:
                    say("START snap \(n) RESTORE base")
                    try await store.restoreSnapshot("base")
                case 1, 2:
                    say("START snap \(n) SAVE \(name)")
                    try await store.saveSnapshot(name)
                case 3:
                    say("START snap \(n) COMPACT")
                    _ = try await store.compact(CompactionOptions(threshold: 0))
                default:
                    say("START snap \(n) DELETE \(name)")
                    do { try await store.deleteSnapshot(name) } catch let e as StoreError where e.code == .noSuchSnapshot {}
                }
                say("ACK snap \(n)")
            }
        }
    }
    for task in 0..<4 {
        group.addTask {
            var x = seed &+ UInt64(task)
            for n in 0..<1_000_000 {
                x = x &* 6364136223846793005 &+ 1442695040888963407
                let key = "t\(task)/k\(Int(x >> 40) % 8)"
                do {
                    if (x >> 20) % 5 == 0 {
                        say("START \(task) \(n) DEL \(key)")
                        try await store.deleteObject(bucket: "crash", key: key)
                    } else {
                        let data = content(seed: seed, task: task, n: n, size: Int(x >> 44) % 100_000)
                        let md5 = Insecure.MD5.hash(data: data).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
                        say("START \(task) \(n) PUT \(key) \(md5)")
                        try await store.putObject(bucket: "crash", key: key, data: data)
                    }
                } catch let e as StoreError where snapshots && e.code == .slowDown {
                    say("REFUSED \(task) \(n)")  // a restore was being written: nothing was stored
                    continue
                }
                say("ACK \(task) \(n)")
            }
        }
    }
    try await group.waitForAll()
}
