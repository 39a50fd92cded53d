// strata-crashwriter DATA_DIR SEED: writes to a store until it is killed, and reports
// every operation on stdout before it starts ("START …") and once it is acknowledged
// durable ("ACK …"). The crash tests kill it with SIGKILL and check the reports against
// what a reopened store holds.
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
guard args.count == 3, let seed = UInt64(args[2]) else {
    say("usage: strata-crashwriter DATA_DIR SEED")
    exit(2)
}
let store = try ObjectStore(directory: args[1], options: .init(segments: .init(maxSegmentSize: 256 * 1024), dataRecordSize: 16 * 1024, ioThreads: 2))
do {
    try await store.createBucket("crash")
} catch let e as StoreError where e.code == .bucketAlreadyOwnedByYou {}
say("READY")
try await withThrowingTaskGroup(of: Void.self) { group in
    for task in 0..<4 {
        group.addTask {
            var x = seed &+ UInt64(task)
            for n in 0..<1_000_000 {
                x = x &* 6364136223846793005 &+ 1442695040888963407
                let key = "t\(task)/k\(Int(x >> 40) % 8)"
                if (x >> 20) % 5 == 0 {
                    say("START \(task) \(n) DEL \(key)")
                    try await store.deleteObject(bucket: "crash", key: key)
                } else {
                    let data = content(seed: seed, task: task, n: n, size: Int(x >> 44) % 100_000)
                    let md5 = Insecure.MD5.hash(data: data).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
                    say("START \(task) \(n) PUT \(key) \(md5)")
                    try await store.putObject(bucket: "crash", key: key, data: data)
                }
                say("ACK \(task) \(n)")
            }
        }
    }
    try await group.waitForAll()
}
