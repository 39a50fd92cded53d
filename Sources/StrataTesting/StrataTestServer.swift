import Foundation
import Logging
import ObjectStore
import S3Server

/// A Strata S3 server inside the test process: an ephemeral store in a fresh temporary
/// directory and an S3 endpoint on a free loopback port, for a test suite that wants a
/// real S3 to talk to without starting a separate program.
///
/// ```swift
/// try await StrataTestServer.with(buckets: ["photos"]) { server in
///     // point the S3 client under test at server.endpoint with server.accessKeyId,
///     // server.secretAccessKey and server.region
/// }
/// ```
///
/// ``with(buckets:region:accessKeyId:secretAccessKey:_:)`` stops the server and removes
/// its data even when the body throws. After ``start(buckets:region:accessKeyId:secretAccessKey:)``
/// call ``stop()`` yourself.
public final class StrataTestServer: Sendable {
    /// `http://127.0.0.1:PORT`, the endpoint to give an S3 client (path-style addressing).
    public let endpoint: URL
    /// The port the server chose.
    public let port: Int
    public let accessKeyId: String
    public let secretAccessKey: String
    /// The region buckets report and requests are signed for.
    public let region: String
    /// Where the ephemeral store keeps its data; removed by ``stop()``.
    public let dataDirectory: String

    private let store: ObjectStore
    private let server: S3HTTPServer

    private init(store: ObjectStore, server: S3HTTPServer, dataDirectory: String,
                 region: String, accessKeyId: String, secretAccessKey: String) {
        self.store = store
        self.server = server
        self.dataDirectory = dataDirectory
        self.port = server.port
        self.endpoint = URL(string: "http://127.0.0.1:\(server.port)")!
        self.region = region
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
    }

    /// Starts a server with an empty store and `buckets` created for the credentials.
    public static func start(buckets: [String] = [], region: String = "us-east-1",
                             accessKeyId: String = S3ServerConfiguration.defaultAccessKey,
                             secretAccessKey: String = S3ServerConfiguration.defaultSecretKey) async throws -> StrataTestServer {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("strata-testing-\(UUID().uuidString)").path
        let store = try ObjectStore(directory: directory)
        do {
            for bucket in buckets {
                try await StartupBuckets.create(bucket, in: store, rootAccessKey: accessKeyId, region: region)
            }
            var configuration = S3ServerConfiguration(host: "127.0.0.1", port: 0, region: region,
                                                      credentials: [accessKeyId: secretAccessKey])
            configuration.startupBuckets = buckets
            // Quiet by default: a test suite's output is its own.
            var logger = Logger(label: "strata.testing")
            logger.logLevel = .error
            let server = try await S3HTTPServer.start(store: store, configuration: configuration, logger: logger)
            return StrataTestServer(store: store, server: server, dataDirectory: directory, region: region,
                                    accessKeyId: accessKeyId, secretAccessKey: secretAccessKey)
        } catch {
            try? store.close()
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// Runs `body` against a new server, then stops it, also when `body` throws.
    @discardableResult
    public static func with<T>(buckets: [String] = [], region: String = "us-east-1",
                               accessKeyId: String = S3ServerConfiguration.defaultAccessKey,
                               secretAccessKey: String = S3ServerConfiguration.defaultSecretKey,
                               _ body: (StrataTestServer) async throws -> T) async throws -> T {
        let server = try await start(buckets: buckets, region: region, accessKeyId: accessKeyId,
                                     secretAccessKey: secretAccessKey)
        let result: Result<T, Error>
        do {
            result = .success(try await body(server))
        } catch {
            result = .failure(error)
        }
        await server.stop()
        return try result.get()
    }

    /// Stops serving (open connections are closed), closes the store and removes its data.
    public func stop() async {
        await server.stop()
        try? store.close()
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }

    /// Creates a bucket owned by the credentials (no error if it exists).
    public func createBucket(_ name: String) async throws {
        try await StartupBuckets.create(name, in: store, rootAccessKey: accessKeyId, region: region)
    }

    /// A presigned URL (SigV4 query form) for `method` on `bucket`/`key`, valid for
    /// `expiresIn` seconds: usable by any HTTP client, no S3 SDK needed. `key` is sent
    /// percent-encoded; `/` is kept.
    public func presignedURL(_ method: String, bucket: String, key: String = "", expiresIn: Int = 900) -> URL {
        var rawPath = "/" + SigV4.uriEncode(Array(bucket.utf8))
        if !key.isEmpty { rawPath += "/" + SigV4.uriEncode(Array(key.utf8), keepSlash: true) }
        let signer = SigV4Signer(accessKey: accessKeyId, secretKey: secretAccessKey, region: region)
        let query = signer.presignedQuery(method: method, host: "127.0.0.1:\(port)", rawPath: rawPath, expires: expiresIn)
        return URL(string: "\(endpoint.absoluteString)\(rawPath)?\(query)")!
    }

    /// Adds fault rules: JSON as `PUT /_strata/faults` takes it (one rule, a list, or
    /// `{"rules": [...]}`), e.g. `{"operation": "PutObject", "error": {"code": "SlowDown"}, "count": 2}`.
    /// Returns the ids of the rules added.
    @discardableResult
    public func addFaults(_ json: String) throws -> [String] {
        try server.faultRules.add(try FaultRules.parse(Array(json.utf8))).map(\.id)
    }

    /// The fault rules with their hit counts, as `GET /_strata/faults` answers them.
    public func faultsJSON() -> String {
        String(decoding: server.faultRules.listJSON(), as: UTF8.self)
    }

    /// Removes every fault rule.
    public func clearFaults() {
        server.faultRules.clear()
    }

    /// Empties the store: every bucket and object goes (what `POST /_strata/reset` does),
    /// so the next test starts from nothing without a new server; the `buckets` it was
    /// started with are made again, empty. Fault rules stay.
    public func reset() async throws {
        try await server.resetStore()
    }

    /// Saves the store's state as `name` (what `POST /_strata/snapshots/NAME` does),
    /// replacing a snapshot of that name. Costs index work only, whatever the objects'
    /// sizes.
    @discardableResult
    public func saveSnapshot(_ name: String) async throws -> SnapshotInfo {
        try await store.saveSnapshot(name)
    }

    /// Returns the store to the state saved as `name`: everything since is undone. The
    /// `buckets` it was started with are made again if the snapshot lacks them.
    @discardableResult
    public func restoreSnapshot(_ name: String) async throws -> SnapshotInfo {
        try await server.restoreSnapshot(name)
    }

    /// Deletes the snapshot `name`.
    public func deleteSnapshot(_ name: String) async throws {
        try await store.deleteSnapshot(name)
    }

    /// The saved snapshots, by name.
    public func snapshots() async throws -> [SnapshotInfo] {
        try await store.snapshots()
    }
}
