import Foundation
import Logging
import ObjectStore
@testable import S3Server

/// A real Strata S3 endpoint for one test: a fresh data directory, an `ObjectStore` on
/// it and an `S3HTTPServer` on a free loopback port.
///
/// Use ``with(_:)``: the server is stopped and the directory removed even when the
/// test body throws, so a failing test never leaves a listening socket behind.
final class S3TestServer: @unchecked Sendable {
    static let accessKey = "test-access-key"
    static let secretKey = "test-secret-key"

    let directory: String
    let store: ObjectStore
    let server: S3HTTPServer
    var port: Int { server.port }
    var host: String { "127.0.0.1:\(port)" }

    private init(directory: String, store: ObjectStore, server: S3HTTPServer) {
        self.directory = directory
        self.store = store
        self.server = server
    }

    /// Runs `body` against a new server, then stops it and removes its data.
    /// - Parameter options: the store's options (e.g. a small `minPartSize` for multipart tests).
    /// - Parameter logger: the server's logger (a test reading the access log gives its own).
    static func with<T>(domain: String? = nil, options: ObjectStore.Options = .init(),
                        logger: Logger = Logger(label: "strata.s3"),
                        configure: (inout S3ServerConfiguration) -> Void = { _ in },
                        _ body: (S3TestServer) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("strata-s3-\(UUID().uuidString)").path
        let store = try ObjectStore(directory: directory, options: options)
        var configuration = S3ServerConfiguration(host: "127.0.0.1", port: 0, domain: domain,
                                                  credentials: [accessKey: secretKey])
        configure(&configuration)
        let server: S3HTTPServer
        do {
            server = try await S3HTTPServer.start(store: store, configuration: configuration, logger: logger)
        } catch {
            try? store.close()
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        let test = S3TestServer(directory: directory, store: store, server: server)
        let result: Result<T, Error>
        do {
            result = .success(try await body(test))
        } catch {
            result = .failure(error)
        }
        await server.stop()
        try? store.close()
        try? FileManager.default.removeItem(atPath: directory)
        return try result.get()
    }
}
