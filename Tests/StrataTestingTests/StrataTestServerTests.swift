import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import StrataTesting
import Testing

/// The library a Swift test suite uses: a server starts, serves S3 over presigned URLs
/// (any HTTP client), and is gone after `with` returns, also when the body throws.
@Suite struct StrataTestServerTests {
    struct Boom: Error {}

    @Test func servesPresignedPutAndGetInCreatedBucket() async throws {
        try await StrataTestServer.with(buckets: ["photos"]) { server in
            #expect(server.endpoint.absoluteString == "http://127.0.0.1:\(server.port)")
            var put = URLRequest(url: server.presignedURL("PUT", bucket: "photos", key: "a b/ü.txt"))
            put.httpMethod = "PUT"
            let (_, putResponse) = try await URLSession.shared.upload(for: put, from: Data("hello".utf8))
            #expect((putResponse as? HTTPURLResponse)?.statusCode == 200)
            let (body, getResponse) = try await URLSession.shared.data(from: server.presignedURL("GET", bucket: "photos", key: "a b/ü.txt"))
            #expect((getResponse as? HTTPURLResponse)?.statusCode == 200)
            #expect(String(decoding: body, as: UTF8.self) == "hello")
            // A bucket that was not created answers S3's NoSuchBucket.
            let (missing, missingResponse) = try await URLSession.shared.data(from: server.presignedURL("GET", bucket: "other", key: "k"))
            #expect((missingResponse as? HTTPURLResponse)?.statusCode == 404)
            #expect(String(decoding: missing, as: UTF8.self).contains("<Code>NoSuchBucket</Code>"))
        }
    }

    @Test func faultRulesFailChosenRequestsAndCountHits() async throws {
        try await StrataTestServer.with(buckets: ["photos"]) { server in
            let ids = try server.addFaults(#"{"id": "slow", "operation": "GetObject", "error": {"code": "SlowDown"}, "count": 1}"#)
            #expect(ids == ["slow"])
            let url = server.presignedURL("GET", bucket: "photos", key: "missing")
            let (body, first) = try await URLSession.shared.data(from: url)
            #expect((first as? HTTPURLResponse)?.statusCode == 503)
            #expect(String(decoding: body, as: UTF8.self).contains("<Code>SlowDown</Code>"))
            let (_, second) = try await URLSession.shared.data(from: url)
            #expect((second as? HTTPURLResponse)?.statusCode == 404, "the rule fired once")
            #expect(server.faultsJSON().contains(#""hits":1"#))
            server.clearFaults()
            #expect(server.faultsJSON() == #"{"rules":[]}"#)
            #expect(throws: (any Error).self) { try server.addFaults(#"{"operation": "GetObject"}"#) }
        }
    }

    @Test func resetEmptiesTheStore() async throws {
        try await StrataTestServer.with(buckets: ["photos"]) { server in
            var put = URLRequest(url: server.presignedURL("PUT", bucket: "photos", key: "a.txt"))
            put.httpMethod = "PUT"
            _ = try await URLSession.shared.upload(for: put, from: Data("a".utf8))
            try await server.createBucket("extra")
            try await server.reset()
            let (body, response) = try await URLSession.shared.data(from: server.presignedURL("GET", bucket: "photos", key: "a.txt"))
            #expect((response as? HTTPURLResponse)?.statusCode == 404)
            #expect(String(decoding: body, as: UTF8.self).contains("<Code>NoSuchKey</Code>"), "the bucket it started with is there again, empty")
            let (gone, _) = try await URLSession.shared.data(from: server.presignedURL("GET", bucket: "extra", key: "a.txt"))
            #expect(String(decoding: gone, as: UTF8.self).contains("<Code>NoSuchBucket</Code>"))
        }
    }

    @Test func wrongSecretIsRefused() async throws {
        try await StrataTestServer.with(buckets: ["bkt"]) { server in
            let url = server.presignedURL("GET", bucket: "bkt", key: "k")
            // The same URL with the signature's last hex digit changed.
            var text = url.absoluteString
            let last = text.removeLast()
            let forged = URL(string: text + (last == "0" ? "1" : "0"))!
            let (_, response) = try await URLSession.shared.data(from: forged)
            #expect((response as? HTTPURLResponse)?.statusCode == 403)
        }
    }

    @Test func stopsAndRemovesDataWhenTheBodyThrows() async throws {
        var port = 0, directory = ""
        await #expect(throws: Boom.self) {
            try await StrataTestServer.with { server in
                port = server.port
                directory = server.dataDirectory
                #expect(FileManager.default.fileExists(atPath: directory))
                throw Boom()
            }
        }
        #expect(port > 0)
        #expect(!FileManager.default.fileExists(atPath: directory))
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/_strata/health/live")!)
        request.timeoutInterval = 5
        await #expect(throws: (any Error).self) { _ = try await URLSession.shared.data(for: request) }
    }
}
