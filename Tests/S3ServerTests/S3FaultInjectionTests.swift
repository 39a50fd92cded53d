import Foundation
// The log's FaultInjector: faults are injected below the store, where the disk is.
import SegmentLog
import ObjectStore
import StrataTestSupport
import XCTest
@testable import S3Server

/// Faults under the HTTP front: a full disk (ENOSPC injected into segment writes), a
/// failing fdatasync, and object bytes flipped on disk. Writes fail with 507 (disk full)
/// or 503 (after a failed sync) while reads go on; a damaged
/// object is a 500 InternalError or, once its head is sent, a connection cut short:
/// never a complete body with wrong bytes.
final class S3FaultInjectionTests: XCTestCase {
    // MARK: Disk full

    func testPutOnAFullDiskIs507WhileReadsGoOn() async throws {
        let faults = FaultInjector()
        try await S3TestServer.with(options: .init(segments: .init(faults: faults))) { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            let before = pattern(1, 300_000)
            try await client.put("bkt", "before", before)

            faults.failWrites(errno: ENOSPC)
            let put = try await client.expect(507, "PUT", "/bkt/new", body: pattern(2, 5000))
            XCTAssertEqual(put.errorCode, "InsufficientStorage", put.bodyString)
            XCTAssertEqual(put.header("Content-Type"), "application/xml")
            let bucket = try await client.expect(507, "PUT", "/other")
            XCTAssertEqual(bucket.errorCode, "InsufficientStorage", bucket.bodyString)

            let get = try await client.expect(200, "GET", "/bkt/before")
            XCTAssertEqual(get.body, before)
            try await client.expect(200, "HEAD", "/bkt/before")
            try await client.expect(404, "HEAD", "/bkt/new")
            let list = try await client.expect(200, "GET", "/bkt", query: [("list-type", "2")])
            XCTAssertEqual(try list.xml().texts("Contents", "Key"), ["before"])
            try await client.expect(404, "HEAD", "/other")

            faults.clear()
            try await client.put("bkt", "new", pattern(2, 5000))
            let again = try await client.expect(200, "GET", "/bkt/new")
            XCTAssertEqual(again.body, pattern(2, 5000))
        }
    }

    // MARK: Failing sync

    /// After an fdatasync fails (EIO), the kernel may have dropped the pages it could not
    /// write: the log takes no more writes until the store is opened again. Writes are
    /// 503 ServiceUnavailable, reads go on, and after a restart every write acknowledged
    /// before is there.
    func testPutAfterAFailedSyncIs503WhileReadsGoOnAndARestartKeepsWhatWasAcknowledged() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-s3-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = S3ServerConfiguration(host: "127.0.0.1", port: 0, credentials: [S3TestServer.accessKey: S3TestServer.secretKey])
        let acknowledged = [("small", pattern(5, 3000)), ("large", pattern(6, 300_000))]

        let faults = FaultInjector()
        let store = try ObjectStore(directory: directory, options: .init(segments: .init(faults: faults)))
        let server = try await S3HTTPServer.start(store: store, configuration: configuration)
        do {
            let client = S3TestClient(port: server.port)
            try await client.createBucket("bkt")
            for (key, body) in acknowledged { try await client.put("bkt", key, body) }

            faults.failSyncs()
            let put = try await client.expect(503, "PUT", "/bkt/new", body: pattern(7, 5000))
            XCTAssertEqual(put.errorCode, "ServiceUnavailable", put.bodyString)
            XCTAssertEqual(put.header("Content-Type"), "application/xml")
            faults.clear()
            let again = try await client.expect(503, "PUT", "/bkt/new", body: pattern(7, 5000), message: "read-only until restart")
            XCTAssertEqual(again.errorCode, "ServiceUnavailable", again.bodyString)
            try await client.expect(503, "DELETE", "/bkt/small")
            try await client.expect(503, "PUT", "/other")

            for (key, body) in acknowledged {
                let get = try await client.expect(200, "GET", "/bkt/\(key)")
                XCTAssertEqual(get.body, body, key)
            }
            let list = try await client.expect(200, "GET", "/bkt", query: [("list-type", "2")])
            XCTAssertEqual(try list.xml().texts("Contents", "Key"), ["large", "small"])
            await client.close()
        } catch {
            await server.stop()
            try? store.close()
            throw error
        }
        await server.stop()
        XCTAssertThrowsError(try store.close(), "the last sync at close is refused too")

        // Restart: every acknowledged write is there, and writes work again.
        let restarted = try ObjectStore(directory: directory)
        let second = try await S3HTTPServer.start(store: restarted, configuration: configuration)
        do {
            let client = S3TestClient(port: second.port)
            for (key, body) in acknowledged {
                let get = try await client.expect(200, "GET", "/bkt/\(key)")
                XCTAssertEqual(get.body, body, key)
            }
            try await client.put("bkt", "new", pattern(7, 5000))
            let get = try await client.expect(200, "GET", "/bkt/new")
            XCTAssertEqual(get.body, pattern(7, 5000))
            await client.close()
        } catch {
            await second.stop()
            try? restarted.close()
            throw error
        }
        await second.stop()
        try restarted.close()
    }

    // MARK: Corruption

    /// Objects of 100 KiB (sent from memory) and 6 MiB (six 1 MiB records, sent with
    /// sendfile), then filler until their segments are sealed.
    private func withDamageableObjects(_ body: (S3TestServer, S3TestClient) async throws -> Void) async throws {
        try await S3TestServer.with(options: .init(segments: .init(maxSegmentSize: 4 << 20))) { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            try await client.put("bkt", "small", Self.small)
            try await client.put("bkt", "big", Self.big)
            let last = try await server.store.headObject(bucket: "bkt", key: "big").extents.last!.segment
            var filler = 0
            while server.store.activeSegmentID == last {
                try await client.put("bkt", "filler\(filler)", pattern(100 + filler, 1 << 20))
                filler += 1
            }
            try await body(server, client)
        }
    }

    static let small = pattern(3, 100 * 1024)
    static let big = pattern(4, 6 << 20)

    /// Flips the bits of one byte of an object's `extent`-th extent, behind the store's back.
    private func damage(_ server: S3TestServer, _ key: String, extent number: Int, at position: UInt64 = 10) async throws {
        let extent = try await server.store.headObject(bucket: "bkt", key: key).extents[number]
        let path = server.store.segmentPath(extent.segment)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: extent.offset + position)
        let byte = try XCTUnwrap(try handle.read(upToCount: 1))
        try handle.seek(toOffset: extent.offset + position)
        try handle.write(contentsOf: [byte[0] ^ 0x5A])
    }

    func testDamagedSmallObjectIsInternalError() async throws {
        try await withDamageableObjects { server, client in
            try await damage(server, "small", extent: 0)
            let get = try await client.expect(500, "GET", "/bkt/small")
            XCTAssertEqual(get.errorCode, "InternalError", get.bodyString)
            XCTAssertEqual(get.header("Content-Type"), "application/xml")
            XCTAssertTrue(get.bodyString.contains("checksum mismatch"), get.bodyString)
            // The connection is still usable, and other objects read fine.
            let big = try await client.expect(200, "GET", "/bkt/big")
            XCTAssertEqual(big.body, Self.big)
        }
    }

    func testDamagedFirstPieceOfALargeObjectIsInternalError() async throws {
        try await withDamageableObjects { server, client in
            try await damage(server, "big", extent: 0)
            let get = try await client.expect(500, "GET", "/bkt/big")
            XCTAssertEqual(get.errorCode, "InternalError", get.bodyString)
            XCTAssertTrue(get.bodyString.contains("checksum mismatch"), get.bodyString)
            // A range GET that starts in the damaged record fails the same way; one that
            // lies in intact records is served.
            let first = try await client.expect(500, "GET", "/bkt/big", headers: [("Range", "bytes=1000-2000000")])
            XCTAssertEqual(first.errorCode, "InternalError", first.bodyString)
            let range = try await client.expect(206, "GET", "/bkt/big", headers: [("Range", "bytes=1048576-3145727")])
            XCTAssertEqual(range.body, Array(Self.big[1_048_576..<3_145_728]))
        }
    }

    /// The head of a sendfile GET is out before its fourth record is checked: the server
    /// can only end the connection. The client gets fewer bytes than Content-Length, all
    /// of them right; the server closes every descriptor it opened for the response.
    func testDamagedLaterPieceCutsTheBodyShort() async throws {
        try await withDamageableObjects { server, client in
            try await damage(server, "big", extent: 3, at: 500_000)
            let segmentsBefore = openSegmentDescriptors(server)
            do {
                let get = try await client.call("GET", "/bkt/big")
                XCTFail("a complete response: \(get.status), \(get.body.count) bytes, right bytes: \(get.body == Self.big)")
            } catch RawHTTPClient.Failure.closed(let partial) {
                XCTAssertLessThanOrEqual(partial.count, 3 << 20, "nothing after the third record")
                XCTAssertEqual(partial, Array(Self.big[..<partial.count]))
            }
            // Every region's descriptor is closed once the connection is gone.
            let deadline = Date().addingTimeInterval(5)
            while openSegmentDescriptors(server) > segmentsBefore && Date() < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            XCTAssertEqual(openSegmentDescriptors(server), segmentsBefore)
            // The server goes on serving.
            let small = try await client.expect(200, "GET", "/bkt/small")
            XCTAssertEqual(small.body, Self.small)
        }
    }

    /// How many descriptors of this process are open on the server's segment files.
    private func openSegmentDescriptors(_ server: S3TestServer) -> Int {
        let segments = server.directory + "/segments/"
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.filter { fd in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd))?.hasPrefix(segments) ?? false
        }.count
    }
}
