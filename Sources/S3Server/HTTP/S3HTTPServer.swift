import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ObjectStore

/// The S3 endpoint: HTTP/1.1 on SwiftNIO in front of an ``ObjectStore``.
///
/// Each connection is served by one task reading request parts from an `NIOAsyncChannel`,
/// so request bodies are pulled with backpressure (never buffered whole) and responses
/// are written with it. File and index work runs on the store's thread pool; the event
/// loops only move bytes.
public final class S3HTTPServer: Sendable {
    /// The port the server listens on (the chosen one when configured with port 0).
    public let port: Int
    let handler: S3RequestHandler

    /// The fault rules in force (what `/_strata/faults` changes), for a server inside a
    /// test process.
    public var faultRules: FaultRules { handler.faultRules }

    /// Empties the store (`POST /_strata/reset`), for a server inside a test process.
    public func resetStore() async throws {
        try await handler.resetStore()
    }

    /// Returns the store to a snapshot (`POST /_strata/snapshots/NAME/restore`), for a
    /// server inside a test process.
    @discardableResult
    public func restoreSnapshot(_ name: String) async throws -> SnapshotInfo {
        try await handler.restoreSnapshot(name)
    }
    private let serverChannel: Channel
    /// Every open connection (served or being refused), to drain them when stopping.
    private let connections: NIOLockedValueBox<[ObjectIdentifier: ConnectionLifecycle]>
    private let serving: Task<Void, Never>
    private let sweeping: Task<Void, Never>
    private let compacting: Task<Void, Never>?

    /// Binds and starts serving; returns once the socket is listening.
    public static func start(store: ObjectStore, configuration: S3ServerConfiguration,
                             logger: Logger = Logger(label: "strata.s3"),
                             group: MultiThreadedEventLoopGroup = .singleton) async throws -> S3HTTPServer {
        try await start(slot: StoreSlot(store), configuration: configuration, logger: logger, group: group)
    }

    /// Binds and starts serving before the store is open: health checks answer at once,
    /// S3 requests get 503 until `slot` is filled.
    public static func start(slot: StoreSlot, configuration: S3ServerConfiguration,
                             logger: Logger = Logger(label: "strata.s3"),
                             group: MultiThreadedEventLoopGroup = .singleton) async throws -> S3HTTPServer {
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderListSize = configuration.maxHeaderBytes
        decoderLimits.maxHeaderFieldSize = configuration.maxHeaderBytes
        let limits = decoderLimits
        let idle = TimeAmount.seconds(configuration.idleTimeoutSeconds)
        let headerTimeout = TimeAmount.seconds(configuration.headerTimeoutSeconds)
        let tls = try configuration.tls.map { try NIOSSLContext(configuration: $0) }
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // (A TCP-level option: `.socketOption(.tcp_nodelay)` would set SOL_SOCKET's
            // option of the same number, SO_DEBUG, which only root may set.)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let lifecycle = ConnectionLifecycle(channel: channel, headerTimeout: headerTimeout)
                    let sync = channel.pipeline.syncOperations
                    if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
                    try sync.addHandler(IdleStateHandler(allTimeout: idle))
                    try sync.addHandler(IdleConnectionCloser(lifecycle))
                    // (No pipelining assistance: `HTTPConnection` answers in order itself.)
                    try sync.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: true,
                                                         withEncoderConfiguration: .init(),
                                                         withDecoderLimitConfiguration: limits)
                    try sync.addHandler(FileRegionCloser())
                    let asyncChannel = try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8)))
                    return AcceptedConnection(channel: asyncChannel, lifecycle: lifecycle)
                }
            }
        return S3HTTPServer(listener: listener, handler: S3RequestHandler(slot: slot, configuration: configuration, logger: logger),
                            executors: EventLoopTaskExecutor.Pool(group))
    }

    private init(listener: NIOAsyncChannel<AcceptedConnection, Never>,
                 handler: S3RequestHandler, executors: EventLoopTaskExecutor.Pool) {
        self.port = listener.channel.localAddress?.port ?? 0
        self.handler = handler
        let configuration = handler.configuration
        let slot = handler.slot, logger = handler.logger
        let metrics = handler.metrics
        self.sweeping = Task {
            guard let store = await slot.wait() else { return }
            metrics.watch(store)
            let worker = LifecycleWorker(store: store, defaultUploadMaxAge: configuration.abandonedUploadMaxAgeSeconds * 1000,
                                         clock: LifecycleClock(dayMilliseconds: configuration.lifecycleDaySeconds * 1000),
                                         logger: logger)
            await worker.run(interval: .seconds(configuration.uploadSweepIntervalSeconds))
        }
        if configuration.compactionIntervalSeconds > 0 {
            self.compacting = Task {
                guard let store = await slot.wait() else { return }
                let compactor = BackgroundCompactor(store: store, threshold: configuration.compactionThreshold, logger: logger)
                await compactor.run(interval: .seconds(configuration.compactionIntervalSeconds))
            }
        } else {
            self.compacting = nil
        }
        self.serverChannel = listener.channel
        let connections = NIOLockedValueBox<[ObjectIdentifier: ConnectionLifecycle]>([:])
        self.connections = connections
        let admission = NIOLockedValueBox(ConnectionAdmission(maxConnections: configuration.maxConnections))
        self.serving = Task {
            await withDiscardingTaskGroup { group in
                do {
                    try await listener.executeThenClose { inbound in
                        for try await connection in inbound {
                            let decision = admission.withLockedValue { $0.arrived() }
                            guard decision != .close else {
                                connection.lifecycle.finish()
                                try? await connection.channel.channel.close()
                                continue
                            }
                            let id = ObjectIdentifier(connection.channel.channel)
                            connections.withLockedValue { $0[id] = connection.lifecycle }
                            if decision == .refuse { connection.lifecycle.overCapacity() }
                            group.addTask(executorPreference: executors.executor(for: connection.channel.channel.eventLoop)) {
                                if decision == .serve { metrics.connectionOpened() }
                                await HTTPConnection(channel: connection.channel, handler: handler,
                                                     lifecycle: connection.lifecycle).run()
                                if decision == .serve { metrics.connectionClosed() }
                                connections.withLockedValue { _ = $0.removeValue(forKey: id) }
                                admission.withLockedValue { $0.ended(decision) }
                            }
                        }
                    }
                } catch {
                    // Stopping ends the loop without an error; anything else is a failure
                    // an operator must see.
                    handler.logger.error("the listening socket failed, no new connections are accepted: \(error)")
                }
            }
        }
    }

    /// Serves until ``stop()`` is called.
    public func run() async {
        await serving.value
    }

    /// Stops: no new connections; with a grace period, requests in flight finish (each
    /// connection closes after its current response; idle keep-alive connections close at
    /// once) and whatever is still open when the period ends is closed, cutting those
    /// requests off (an upload cut off commits nothing). Returns when every connection
    /// task has finished; then the store can be closed.
    public func stop(gracePeriod: Duration = .zero) async {
        sweeping.cancel()
        compacting?.cancel()
        await sweeping.value
        await compacting?.value
        try? await serverChannel.close()
        if gracePeriod > .zero {
            for connection in connections.withLockedValue({ Array($0.values) }) {
                connection.drain()
            }
            let deadline = ContinuousClock.now + gracePeriod
            while ContinuousClock.now < deadline, !connections.withLockedValue({ $0.isEmpty }) {
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        for connection in connections.withLockedValue({ Array($0.values) }) {
            connection.channel.close(promise: nil)
        }
        // A handler still running (an operator's compaction, say) is cancelled: its
        // connection is gone, and stopping must not wait for it.
        serving.cancel()
        await serving.value
    }
}

/// An accepted connection: its channel, and its lifecycle (started when the channel was
/// set up, so the header timeout runs from the connection's start).
struct AcceptedConnection: Sendable {
    let channel: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    let lifecycle: ConnectionLifecycle
}
