import ArgumentParser
import CSystemShims
import Foundation
import Logging
import NIOCore
import ObjectStore
import S3Server
import SegmentLog

@main
struct Strata: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "An S3-compatible object store on an append-only log.",
        version: StrataVersion.current,
        subcommands: [Serve.self, Compact.self, Recover.self, Inspect.self, Verify.self, Faults.self, Reset.self, Snapshot.self]
    )

    /// Runs the command; a storage engine error that a command let through is printed as
    /// one plain line (`strata inspect: …`), not as ArgumentParser prints an unknown
    /// error, with the S3 code the engine's errors carry for the HTTP layer.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let error as StoreError {
            fail(error)
        } catch let error as DirectoryLock.InUse {
            fail(error)
        } catch {
            exit(withError: error)
        }
    }

    private static func fail(_ error: Error) -> Never {
        let arguments = CommandLine.arguments.dropFirst().prefix { !$0.hasPrefix("-") }
        let command = (["strata"] + arguments.prefix(arguments.first == "inspect" ? 2 : 1)).joined(separator: " ")
        printError("\(command): \(plainWords(error))")
        Foundation.exit(1)
    }
}

struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "The data directory (segments/ and index/).")
    var data: String = "./data"
}

/// The root credentials: options, else `STRATA_ACCESS_KEY` / `STRATA_SECRET_KEY`, else
/// the printed defaults.
struct RootCredentials: ParsableArguments {
    @Option(name: .long, help: "Root access key id (default: $STRATA_ACCESS_KEY, else \(S3ServerConfiguration.defaultAccessKey)).")
    var accessKey: String?

    @Option(name: .long, help: "Root secret key (default: $STRATA_SECRET_KEY, else \(S3ServerConfiguration.defaultSecretKey)).")
    var secretKey: String?

    var resolved: (accessKey: String, secretKey: String) {
        let environment = ProcessInfo.processInfo.environment
        return (accessKey ?? environment["STRATA_ACCESS_KEY"] ?? S3ServerConfiguration.defaultAccessKey,
                secretKey ?? environment["STRATA_SECRET_KEY"] ?? S3ServerConfiguration.defaultSecretKey)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the data directory and serve S3 on it.",
        discussion: """
        Every option can also come from an environment variable (STRATA_ and the option's \
        name in capitals, dashes as underscores: --segment-size is STRATA_SEGMENT_SIZE) or \
        from a config file (--config FILE or STRATA_CONFIG; lines `segment-size = 64M`, \
        `#` comments). A flag wins over the environment, the environment over the file, \
        the file over the default.
        """
    )

    @Option(name: .long, help: "Config file of `name = value` lines (env STRATA_CONFIG).")
    var config: String?

    @Option(name: .long, help: "The data directory (segments/ and index/). Default ./data.")
    var data: String?

    @Flag(name: .long, help: "Use a new temporary data directory and remove it at exit (for test runs).")
    var ephemeral = false

    @Option(name: .long, help: "Address to listen on. Default 127.0.0.1.")
    var host: String?

    @Option(name: .long, help: "TCP port to listen on; 0 picks a free one (printed at start). Default 9000.")
    var port: Int?

    @Option(name: .long, help: "Root access key id. Default \(S3ServerConfiguration.defaultAccessKey).")
    var accessKey: String?

    @Option(name: .long, help: "Root secret key. Default \(S3ServerConfiguration.defaultSecretKey).")
    var secretKey: String?

    @Option(name: .long, help: "Users file: one user per line, ACCESS_KEY SECRET_KEY CANONICAL_USER_ID [ACCOUNT_ID] DISPLAY_NAME; a 12-digit ACCOUNT_ID puts users in one AWS account, without one a user has an account of its own (README, Users and access). Default none: only the root credentials.")
    var users: String?

    @Option(name: .long, help: "The master key of SSE-S3 and SSE-KMS: a file holding the base64 of 32 random bytes (e.g. `head -c 32 /dev/urandom | base64`). Default DATA/master.key, made at first start (README, Encryption keys).")
    var masterKeyFile: String?

    @Option(name: .long, help: "KMS key list for SSE-KMS: one key per line, KEY_ID [alias/NAME ...]. The AWS-managed alias/aws/s3 key always exists. Default none.")
    var kmsKeys: String?

    @Option(name: .customLong("bucket"), help: "Create this bucket (owned by the root credentials) before the server reports ready, if it does not exist; repeatable. Also STRATA_BUCKETS=a,b or `buckets = a,b` in the config file.")
    var buckets: [String] = []

    @Option(name: .long, help: "The region buckets report and requests must be signed for (a request signed for another is 400 AuthorizationHeaderMalformed, naming this one). Default: us-east-1 reported, and requests signed for any region accepted.")
    var region: String?

    @Option(name: .long, help: "Base domain for virtual-hosted-style requests (bucket.DOMAIN); path style always works. Default none.")
    var domain: String?

    @Option(name: .long, help: "Abort multipart uploads older than this many seconds (a bucket lifecycle rule AbortIncompleteMultipartUpload overrides it per key prefix). Default 86400.")
    var abortUploadsAfter: Int64?

    @Option(name: .long, help: "Length of one lifecycle day in seconds, for watching lifecycle rules (Expiration Days, AbortIncompleteMultipartUpload) act in tests. Default 86400.")
    var lifecycleDaySeconds: Int64?

    @Option(name: .long, help: "Seconds between lifecycle worker passes (expiring objects, aborting uploads). Default: a quarter of --abort-uploads-after, at most 600.")
    var lifecycleInterval: Int64?

    @Option(name: .long, help: "Roll over to a new segment file at this size (64K to 1T, e.g. 64M). Default 1G.")
    var segmentSize: String?

    @Option(name: .long, help: "Memory for small objects read again and again (the current versions of objects up to 256K, whole); 0 turns it off. Default 16M.")
    var cacheSize: String?

    @Option(name: .long, help: "Background compaction takes sealed segments whose dead ratio is at least this (0 to 1). Default 0.5.")
    var compactThreshold: Double?

    @Option(name: .long, help: "Seconds between background compaction checks; 0 turns it off. Default 60.")
    var compactInterval: Int64?

    @Option(name: .long, help: "On SIGTERM/SIGINT, seconds requests in flight get to finish before their connections are cut. Default 30.")
    var shutdownTimeout: Int64?

    @Option(name: .long, help: "Connections served at once; one more is answered 503 SlowDown. Default 1024.")
    var maxConnections: Int?

    @Option(name: .long, help: "Close a connection after this many seconds without traffic. Default 300.")
    var idleTimeout: Int64?

    @Option(name: .long, help: "A request head must arrive complete within this many seconds (also how long an idle keep-alive connection stays open). Default 60.")
    var headerTimeout: Int64?

    @Option(name: .long, help: "Serve HTTPS with this PEM certificate (chain); needs --tls-key.")
    var tlsCert: String?

    @Option(name: .long, help: "The PEM private key of --tls-cert.")
    var tlsKey: String?

    @Flag(name: .long, help: "Serve HTTPS with a certificate for localhost/127.0.0.1 made at start; its CA is written to DATA/tls-ca.pem (printed) for AWS_CA_BUNDLE.")
    var tlsSelfSigned = false

    @Option(name: .long, help: "Fault rules in force from the start, for testing clients: a JSON file as PUT /_strata/faults takes (README, Testing your application). Default none.")
    var faults: String?

    @Option(name: .long, help: "Log format: human or json (JSON lines). Default human.")
    var logFormat: String?

    @Option(name: .long, help: "Least severe level logged: trace, debug, info, notice, warning, error, critical. Default info.")
    var logLevel: String?

    @Option(name: .long, help: "Log one line per request: true or false. Default true.")
    var accessLog: String?

    /// The flags given on the command line, by name.
    private var flags: [String: String] {
        let given: [(String, String?)] = [
            ("data", data), ("host", host), ("port", port.map(String.init)), ("access-key", accessKey),
            ("secret-key", secretKey), ("users", users), ("region", region), ("domain", domain),
            ("master-key-file", masterKeyFile), ("kms-keys", kmsKeys), ("faults", faults),
            ("buckets", buckets.isEmpty ? nil : buckets.joined(separator: ",")),
            ("abort-uploads-after", abortUploadsAfter.map(String.init)), ("segment-size", segmentSize), ("cache-size", cacheSize),
            ("compact-threshold", compactThreshold.map { "\($0)" }), ("compact-interval", compactInterval.map(String.init)),
            ("log-format", logFormat), ("log-level", logLevel), ("access-log", accessLog),
            ("shutdown-timeout", shutdownTimeout.map(String.init)), ("max-connections", maxConnections.map(String.init)),
            ("idle-timeout", idleTimeout.map(String.init)),
            ("header-timeout", headerTimeout.map(String.init)), ("tls-cert", tlsCert), ("tls-key", tlsKey),
            ("tls-self-signed", tlsSelfSigned ? "true" : nil),
            ("lifecycle-day-seconds", lifecycleDaySeconds.map(String.init)),
            ("lifecycle-interval", lifecycleInterval.map(String.init)),
        ]
        return Dictionary(uniqueKeysWithValues: given.compactMap { name, value in value.map { (name, $0) } })
    }

    static let settingNames: Set<String> = [
        "data", "host", "port", "access-key", "secret-key", "users", "region", "domain", "abort-uploads-after", "segment-size", "cache-size",
        "master-key-file", "kms-keys", "buckets", "faults",
        "compact-threshold", "compact-interval", "log-format", "log-level", "access-log", "shutdown-timeout",
        "max-connections", "idle-timeout", "header-timeout", "tls-cert", "tls-key", "tls-self-signed",
        "lifecycle-day-seconds", "lifecycle-interval",
    ]

    /// Every setting resolved from flags, environment, config file and defaults.
    func settings() throws -> ServeSettings {
        try ServeSettings(try sources())
    }

    /// The master key (DATA/master.key, made at first start, or --master-key-file, which
    /// must exist) and the KMS key list.
    private func loadKeyRing(_ settings: ServeSettings, dataDirectory: String) throws -> KeyRing {
        let masterKey: EncryptionKey
        if let path = settings.masterKeyFile {
            masterKey = try KeyRing.masterKey(at: path, create: false)
        } else {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
            let path = dataDirectory + "/" + KeyRing.masterKeyFileName
            let existingData = !((try? FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/segments")) ?? []).isEmpty
            if existingData && !FileManager.default.fileExists(atPath: path) {
                // Data written before encryption existed needs none; but if the key file
                // was lost, objects sealed under it stay unreadable until it is restored.
                ServeOutput(format: settings.logFormat).say("WARNING: \(path) is missing and a new master key is being made; SSE-S3 and SSE-KMS objects written under an earlier key will answer 500 until that key file is put back (README, Encryption keys)")
            }
            masterKey = try KeyRing.masterKey(at: path, create: true)
        }
        guard let path = settings.kmsKeys else { return KeyRing(masterKey: masterKey) }
        do {
            return try KeyRing.parseKeyList(try String(contentsOfFile: path, encoding: .utf8), masterKey: masterKey)
        } catch {
            throw KeyRing.KeyFileError("--kms-keys \(path): \(error)")
        }
    }

    func validate() throws {
        _ = try settings()
        // --ephemeral makes its own directory: a data directory given as well, from any
        // source, would be ignored, and its data silently not served.
        if ephemeral, let given = try sources().value("data") {
            printError("strata serve: --ephemeral uses a new temporary data directory, so it cannot go with \(given.source) \(given.value); give one of them")
            throw ExitCode(2)
        }
    }

    /// Where each setting comes from (flags, environment, config file).
    private func sources() throws -> SettingSources {
        let environment = ProcessInfo.processInfo.environment
        let configPath = config ?? environment["STRATA_CONFIG"]
        let file = try configPath.map { try SettingSources.readFile($0, known: Self.settingNames) } ?? [:]
        return SettingSources(flags: flags, environment: environment, file: file, fileName: configPath)
    }

    func run() async throws {
        let settings = try settings()
        for warning in EnvironmentCheck.warnings(environment: ProcessInfo.processInfo.environment, settings: Self.settingNames) {
            printError("strata serve: \(warning)")
        }
        let output = ServeOutput(format: settings.logFormat)
        let logger = makeLogger(format: settings.logFormat, level: settings.logLevel)
        var dataDirectory = settings.data
        if ephemeral {
            dataDirectory = NSTemporaryDirectory() + "strata-ephemeral-\(UUID().uuidString.prefix(8))"
        }
        defer {
            if ephemeral { try? FileManager.default.removeItem(atPath: dataDirectory) }
        }
        raiseOpenFileLimit(toServe: settings.maxConnections)
        returnLargeBuffersToTheSystem()
        var storeOptions = ObjectStore.Options()
        storeOptions.segments.maxSegmentSize = settings.segmentSize
        storeOptions.cacheBytes = Int(settings.cacheSize)
        var configuration = S3ServerConfiguration(host: settings.host, port: settings.port, region: settings.region,
                                                  domain: settings.domain,
                                                  credentials: [settings.accessKey: settings.secretKey],
                                                  abandonedUploadMaxAgeSeconds: settings.abortUploadsAfter,
                                                  uploadSweepIntervalSeconds: settings.lifecycleInterval
                                                      ?? max(1, min(600, settings.abortUploadsAfter / 4)),
                                                  compactionThreshold: settings.compactThreshold,
                                                  compactionIntervalSeconds: settings.compactInterval,
                                                  accessLog: settings.accessLog, maxConnections: settings.maxConnections)
        if let usersFile = settings.users {
            do {
                let text = try String(contentsOfFile: usersFile, encoding: .utf8)
                configuration.users = try UserDirectory(root: configuration.credentials, usersFile: text)
            } catch {
                printError("strata serve: --users \(usersFile): \(error)")
                throw ExitCode(2)
            }
        }
        do {
            configuration.keyRing = try loadKeyRing(settings, dataDirectory: dataDirectory)
        } catch {
            printError("strata serve: encryption keys: \(error)")
            throw ExitCode(2)
        }
        if let path = settings.faults {
            do {
                configuration.faults = try FaultRules.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
            } catch {
                printError("strata serve: --faults \(path): \(error is FaultRuleError ? "\(error)" : plainWords(error))")
                throw ExitCode(2)
            }
            if !configuration.faults.isEmpty {
                output.say("WARNING: \(configuration.faults.count) fault rule(s) from \(path) are in force: chosen requests will fail on purpose (GET /_strata/faults lists them)")
            }
        }
        configuration.signingRegion = settings.signingRegion
        configuration.startupBuckets = settings.buckets
        configuration.idleTimeoutSeconds = settings.idleTimeout
        configuration.lifecycleDaySeconds = settings.lifecycleDaySeconds
        configuration.headerTimeoutSeconds = settings.headerTimeout
        var selfSigned: TLSSetup.SelfSigned?
        do {
            if let cert = settings.tlsCert, let key = settings.tlsKey {
                configuration.tls = try TLSSetup.fromFiles(certificate: cert, key: key)
            } else if settings.tlsSelfSigned {
                try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
                selfSigned = try TLSSetup.selfSigned(directory: URL(fileURLWithPath: dataDirectory).standardizedFileURL.path)
                configuration.tls = selfSigned?.configuration
            }
        } catch let error as TLSFileError {
            printError("strata serve: \(error)")
            throw ExitCode(2)
        } catch {
            printError("strata serve: TLS: \(plainWords(error))")
            throw ExitCode(1)
        }
        let caFile = selfSigned?.caPath
        // Listen first, so health checks answer while recovery runs (ready: 503 until the
        // store is open); S3 requests get 503 meanwhile.
        let slot = StoreSlot()
        let server: S3HTTPServer
        do {
            server = try await S3HTTPServer.start(slot: slot, configuration: configuration, logger: logger)
        } catch {
            printError("strata serve: \(describeListenFailure(error, host: settings.host, port: settings.port))")
            throw ExitCode(1)
        }
        let scheme = configuration.tls == nil ? "http" : "https"
        let listener = Listener(host: settings.host, port: server.port, scheme: scheme)
        output.say("listening on \(listener.describe), opening \(dataDirectory) (health: \(listener.endpoint)/_strata/health/ready)",
                   json: ("listening", ["endpoint": "\(listener.endpoint)", "listen": "\(listener.address)",
                                        "data": "\(dataDirectory)"]))
        let store: ObjectStore
        do {
            // Recovery blocks; keep it off Swift's cooperative threads, which serve requests.
            let directory = dataDirectory, options = storeOptions
            store = try await withCheckedThrowingContinuation { continuation in
                Thread.detachNewThread {
                    continuation.resume(with: Result { try ObjectStore(directory: directory, options: options) })
                }
            }
        } catch {
            await server.stop()
            printError("strata serve: cannot open \(dataDirectory): \(plainWords(error))")
            throw ExitCode(1)
        }
        output.say(describe(store.recovery, directory: dataDirectory + (ephemeral ? " (ephemeral, removed at exit)" : "")))
        // Damage an earlier recovery skipped stays marked in the index: say so at every start.
        for span in (try? await store.damagedSpans()) ?? [] where !store.recovery.damaged.contains(span) {
            output.say("DAMAGED: segment file \(span.segmentFileName) offset \(span.offset): \(span.damage), "
                       + "\(span.length) bytes (found by an earlier recovery; strata verify lists what they held)", level: .warning)
        }
        // Buckets asked for at start exist before the server reports ready.
        let root = Principal.root(accessKeyId: settings.accessKey)
        for bucket in settings.buckets {
            do {
                if try await StartupBuckets.create(bucket, in: store, rootAccessKey: settings.accessKey, region: settings.region) {
                    output.say("created bucket \(bucket)", json: ("created bucket", ["bucket": "\(bucket)"]))
                }
            } catch {
                await server.stop()
                try? store.close()
                printError("strata serve: --bucket \(bucket): \(plainWords(error))")
                throw ExitCode(2)
            }
        }
        slot.fill(store)
        let isDefault = settings.accessKey == S3ServerConfiguration.defaultAccessKey
            && settings.secretKey == S3ServerConfiguration.defaultSecretKey
        let shownSecret = isDefault ? settings.secretKey : String(repeating: "*", count: 8)
        let endpoint = listener.endpoint
        var bannerFields: Logger.Metadata = [
            "version": "\(StrataVersion.current)", "endpoint": "\(endpoint)", "listen": "\(listener.address)",
            "port": .stringConvertible(server.port), "region": "\(settings.region)",
            "access_key": "\(settings.accessKey)", "account": "\(root.accountId)",
        ]
        if isDefault { bannerFields["secret_key"] = "\(settings.secretKey)" }
        if let caFile { bannerFields["ca_file"] = "\(caFile)" }
        output.say("""
            Strata \(StrataVersion.current) S3 endpoint \(endpoint)\(listener.allInterfaces ? " (listening on all interfaces, \(listener.address))" : "")
              port        \(server.port)
              region      \(settings.region)\(settings.signingRegion == nil ? " (requests signed for any region accepted)" : "")
              access key  \(settings.accessKey)
              secret key  \(shownSecret)
              account     \(root.accountId)
              try:        \(caFile.map { "AWS_CA_BUNDLE=\($0) " } ?? "")AWS_ACCESS_KEY_ID=\(settings.accessKey) \
            AWS_SECRET_ACCESS_KEY=\(isDefault ? settings.secretKey : "…") aws --endpoint-url \(endpoint) s3 ls
            """, json: ("Strata S3 endpoint ready", bannerFields))
        if let selfSigned {
            output.say("  CA file     \(selfSigned.caPath)  (export AWS_CA_BUNDLE=\(selfSigned.caPath); "
                       + (selfSigned.caIsNew ? "made now" : "kept from an earlier start") + ", key in \(selfSigned.caKeyPath))",
                       json: ("TLS CA", ["ca_file": "\(selfSigned.caPath)", "ca_key_file": "\(selfSigned.caKeyPath)",
                                         "ca_new": .stringConvertible(selfSigned.caIsNew)]))
        }
        for user in configuration.users.principals where !user.isRoot {
            output.say("  user        \(user.accessKeyId ?? "")  account \(user.accountId)  \(user.displayName)",
                       json: ("user", ["user_access_key": "\(user.accessKeyId ?? "")", "account": "\(user.accountId)",
                                       "display_name": "\(user.displayName)"]))
        }

        // SIGINT/SIGTERM: stop accepting, close connections, sync and close the store. A
        // second signal while that runs exits at once (what the store has acknowledged is
        // on disk; recovery at the next start cuts whatever was in flight).
        let stopping = SignalCount()
        let signals = [SIGINT, SIGTERM].map { (signo: Int32) -> DispatchSourceSignal in
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
            source.setEventHandler {
                if stopping.next() > 1 {
                    output.say("stopping now, without waiting for requests in flight", level: .warning)
                    Foundation.exit(128 + signo)
                }
                output.say("stopping: no new connections; requests in flight get \(settings.shutdownTimeout) s to finish "
                           + "(press Ctrl-C again to stop at once)")
                Task { await server.stop(gracePeriod: .seconds(settings.shutdownTimeout)) }
            }
            source.resume()
            return source
        }
        await server.run()
        signals.forEach { $0.cancel() }
        try store.close()
        output.say("Strata stopped.")
    }

    /// Why the server could not listen, in one line.
    private func describeListenFailure(_ error: Error, host: String, port: Int) -> String {
        let address = host.contains(":") ? "[\(host)]" : host
        if let io = error as? NIOCore.IOError {
            switch io.errnoCode {
            case EADDRINUSE:
                return "port \(port) on \(host) is already in use (another strata serve? choose another with --port, or --port 0 for any free one)"
            case EACCES:
                return "cannot listen on \(address):\(port): permission denied (ports below 1024 need privileges)"
            case EADDRNOTAVAIL:
                return "cannot listen on \(address):\(port): \(host) is not an address of this machine (--host)"
            default:
                return "cannot listen on \(address):\(port): \(String(cString: strerror(io.errnoCode)))"
            }
        }
        if error is SocketAddressError {
            return "cannot listen on \(address):\(port): \(host) is not an address or a name this machine resolves (--host)"
        }
        return "cannot listen on \(address):\(port): \(error)"
    }
}

/// How many stop signals have arrived.
final class SignalCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    /// Counts one more signal and returns how many there have been.
    func next() -> Int {
        lock.withLock {
            count += 1
            return count
        }
    }
}

/// Where `strata serve` listens, and the URL to reach it by: for the wildcard addresses
/// (0.0.0.0, ::) that is the loopback address of the same family, which the banner and
/// its `try:` line can offer to copy.
struct Listener {
    let host: String
    let port: Int
    let scheme: String

    /// Listening on every interface (0.0.0.0 or ::).
    var allInterfaces: Bool { ["0.0.0.0", "::", "[::]", "0:0:0:0:0:0:0:0"].contains(host) }

    /// The listening address as `host:port`.
    var address: String { "\(host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host):\(port)" }

    /// A URL that reaches the server from this machine.
    var endpoint: String {
        let reachable = allInterfaces ? (host == "0.0.0.0" ? "127.0.0.1" : "[::1]")
            : (host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host)
        return "\(scheme)://\(reachable):\(port)"
    }

    /// For the first line: `http://127.0.0.1:9000`, or `all interfaces (0.0.0.0:9000; from this machine http://127.0.0.1:9000)`.
    var describe: String {
        allInterfaces ? "all interfaces (\(address); from this machine \(endpoint))" : endpoint
    }
}

/// `strata serve`'s settings, resolved and checked.
struct ServeSettings {
    var data: String
    var host: String
    var port: Int
    var accessKey: String
    var secretKey: String
    var users: String?
    var masterKeyFile: String?
    var kmsKeys: String?
    /// Fault rules to start with (`--faults FILE`).
    var faults: String?
    /// Buckets to create at start (`--bucket`, STRATA_BUCKETS).
    var buckets: [String]
    var region: String
    /// The region requests must be signed for: the configured region, or nil (any) when
    /// none was configured (flag, environment or config file).
    var signingRegion: String?
    var domain: String?
    var abortUploadsAfter: Int64
    var segmentSize: UInt64
    var cacheSize: UInt64
    var compactThreshold: Double
    var compactInterval: Int64
    var logFormat: LogFormat
    var logLevel: Logger.Level
    var accessLog: Bool
    var shutdownTimeout: Int64
    var maxConnections: Int
    var idleTimeout: Int64
    var headerTimeout: Int64
    var tlsCert: String?
    var tlsKey: String?
    var tlsSelfSigned: Bool
    var lifecycleDaySeconds: Int64
    var lifecycleInterval: Int64?

    init(_ s: SettingSources) throws {
        data = s.string("data", default: "./data")
        host = s.string("host", default: "127.0.0.1")
        port = try s.parse("port", default: 9000, what: "a port from 0 to 65535") { Int($0).flatMap { (0...65535).contains($0) ? $0 : nil } }
        accessKey = s.string("access-key", default: S3ServerConfiguration.defaultAccessKey)
        secretKey = s.string("secret-key", default: S3ServerConfiguration.defaultSecretKey)
        users = s.optionalString("users")
        masterKeyFile = s.optionalString("master-key-file")
        kmsKeys = s.optionalString("kms-keys")
        faults = s.optionalString("faults")
        buckets = (s.optionalString("buckets") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        signingRegion = s.optionalString("region")
        region = signingRegion ?? "us-east-1"
        domain = s.optionalString("domain")
        abortUploadsAfter = try s.parse("abort-uploads-after", default: 86_400, what: "a positive number of seconds") {
            Int64($0).flatMap { $0 > 0 ? $0 : nil }
        }
        segmentSize = try s.parse("segment-size", default: 1 << 30, what: "a size from 64K to 1T") {
            parseByteSize($0).flatMap { (1 << 16 ... 1 << 40).contains($0) ? $0 : nil }
        }
        cacheSize = try s.parse("cache-size", default: 16 << 20, what: "a size from 0 to 64G") {
            ($0 == "0" ? 0 : parseByteSize($0)).flatMap { $0 <= 1 << 36 ? $0 : nil }
        }
        compactThreshold = try s.parse("compact-threshold", default: 0.5, what: "a number from 0 to 1") {
            Double($0).flatMap { (0...1).contains($0) ? $0 : nil }
        }
        lifecycleDaySeconds = try s.parse("lifecycle-day-seconds", default: 86_400, what: "a positive number of seconds") {
            Int64($0).flatMap { $0 > 0 ? $0 : nil }
        }
        let interval = try s.parse("lifecycle-interval", default: Int64(0), what: "a positive number of seconds") {
            Int64($0).flatMap { $0 > 0 ? $0 : nil }
        }
        lifecycleInterval = interval == 0 ? nil : interval
        compactInterval = try s.parse("compact-interval", default: 60, what: "0 or more seconds") { Int64($0).flatMap { $0 >= 0 ? $0 : nil } }
        logFormat = try s.parse("log-format", default: .human, what: "human or json") { LogFormat(rawValue: $0) }
        logLevel = try s.parse("log-level", default: .info, what: "a log level (trace, debug, info, notice, warning, error, critical)") {
            Logger.Level(rawValue: $0)
        }
        accessLog = try s.bool("access-log", default: true)
        maxConnections = try s.parse("max-connections", default: 1024, what: "a number from 1 to 1000000") {
            Int($0).flatMap { (1...1_000_000).contains($0) ? $0 : nil }
        }
        idleTimeout = try s.parse("idle-timeout", default: 300, what: "a positive number of seconds") { Int64($0).flatMap { $0 > 0 ? $0 : nil } }
        headerTimeout = try s.parse("header-timeout", default: 60, what: "a positive number of seconds") { Int64($0).flatMap { $0 > 0 ? $0 : nil } }
        tlsCert = s.optionalString("tls-cert")
        tlsKey = s.optionalString("tls-key")
        tlsSelfSigned = try s.bool("tls-self-signed", default: false)
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        guard !(tlsSelfSigned && tlsCert != nil) else { throw ValidationError("--tls-self-signed and --tls-cert exclude each other") }
        shutdownTimeout = try s.parse("shutdown-timeout", default: 30, what: "0 or more seconds") { Int64($0).flatMap { $0 >= 0 ? $0 : nil } }
    }
}

struct Recover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay the log into the index, cutting off a torn tail; or rebuild the index from segments alone.",
        discussion: """
        Without options this does what start-up does: replay the records after the index's \
        checkpoint. With --rebuild-index a new index is built from every segment beside the \
        old one and swapped in only when complete: if the rebuild fails or is interrupted, \
        the store stays exactly as it was. The rebuild stops at the first damaged record \
        (corruption that valid records follow) and names it; add --salvage to skip damaged \
        records, keep every valid record around them, and list what they held (bucket, key, \
        version). Run it on a stopped data directory.
        """
    )

    @OptionGroup var options: DataOptions

    @Flag(name: .long, help: "Build a new index from the segments alone and swap it in when complete.")
    var rebuildIndex = false

    @Flag(name: .long, help: "With --rebuild-index: skip damaged records instead of stopping, and list what was lost.")
    var salvage = false

    func validate() throws {
        if salvage && !rebuildIndex { throw ValidationError("--salvage goes with --rebuild-index") }
    }

    func run() async throws {
        try requireDataDirectory(options.data, command: "recover")
        guard FileManager.default.fileExists(atPath: options.data + "/segments") else {
            printError("strata recover: \(options.data) has no segments directory")
            throw ExitCode(2)
        }
        let start = Date()
        let report: Recovery.Report
        if rebuildIndex {
            let result: IndexRebuild.Result
            do {
                result = try ObjectStore.rebuildIndex(directory: options.data, onDamage: salvage ? .salvage : .stop)
            } catch {
                printError("strata recover: \(plainWords(error))")
                if !(error is IndexRebuild.RepairAfterSwapFailed) { printError("strata recover: the index was not changed") }
                throw ExitCode(1)
            }
            report = result.report
            print(describe(report, directory: options.data))
            if !result.losses.isEmpty {
                print("lost to damaged records (\(result.losses.count)):")
                for loss in result.losses { print("  \(loss)") }
            }
        } else {
            let store: ObjectStore
            do {
                store = try ObjectStore(directory: options.data)
            } catch {
                printError("strata recover: \(plainWords(error))")
                throw ExitCode(1)
            }
            report = store.recovery
            try store.close()
            print(describe(report, directory: options.data))
        }
        print(String(format: "done in %.2f s", Date().timeIntervalSince(start)))
    }
}

func describe(_ r: Recovery.Report, directory: String) -> String {
    var lines = ["data directory: \(directory)"]
    lines.append("segments scanned: \(r.segmentsScanned), records scanned: \(r.recordsScanned), commits applied: \(r.recordsApplied)")
    lines.append("log end: \(r.end.map(describe) ?? "empty"), last sequence: \(r.lastSequence)")
    if let torn = r.tornTail { lines.append("torn tail cut at \(describe(torn.position)): \(torn.reason)") }
    if let saved = r.tailSavedTo {
        lines.append("the cut tail held valid records (after a machine crash: writes never acknowledged, or records behind a damaged byte); its bytes were kept in \(saved)")
    }
    for id in r.tornSegments { lines.append("removed segment file \(SegmentLog.fileName(id)) with a torn header") }
    if let cut = r.cutAfterFailedSync {
        lines.append("a sync failed in the last run: the log was cut back to \(describe(cut)), where the last good sync ended (nothing after it was acknowledged)")
    }
    for span in r.damaged {
        lines.append("DAMAGED: segment file \(span.segmentFileName) offset \(span.offset): \(span.damage), "
                     + "\(span.length) bytes skipped; the valid records after it were kept (strata verify lists what it held)")
    }
    if r.indexDiscardedAfterMachineCrash {
        lines.append("the index was left by a run that ended with a machine crash: rebuilt from the segments")
    }
    return lines.joined(separator: "\n")
}

/// A place in the log as it is on disk: `segment file 0000000000000003.seg offset 4096`.
func describe(_ position: LogPosition) -> String {
    "segment file \(SegmentLog.fileName(position.segment)) offset \(position.offset)"
}

/// Prints straight to the standard output, unbuffered, so a parent process reading a
/// pipe sees the line (for example the listening address) at once.
func printNow(_ message: String) {
    // Through the log's writer, so it stays in order with the log lines before it.
    StandardOutput.shared.write(message)
    StandardOutput.shared.flush()
}

func printError(_ message: String) {
    StandardOutput.shared.flush()
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Makes glibc serve every allocation of 256 KiB or more (record buffers, GET bodies)
/// from its own mapping, returned to the system when freed.
///
/// By default glibc raises that threshold to the size of the largest block freed, so
/// after the first 1 MiB record buffer every later one came from a heap arena, and the
/// arenas of the pool threads and event loops kept them: the side-by-side bench left the
/// server at 117 MiB resident after its uploads, with nothing live.
///
/// Smaller blocks stay in the heaps, and up to 4 MiB free at the top of one is kept for
/// the next request rather than given back: a listing page's 235 KB document was
/// otherwise faulted in afresh for every page (13% of a listing's CPU).
func returnLargeBuffersToTheSystem() {
    _ = strata_set_malloc_thresholds(256 * 1024, 4 << 20)
}

/// Raises the soft limit on open files to the hard limit: every connection is a
/// descriptor, and a GET by sendfile holds one more per segment piece in flight.
func raiseOpenFileLimit(toServe connections: Int) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 {
        printError("strata serve: could not raise the open-files limit: \(String(cString: strerror(errno)))")
    }
    if limit.rlim_cur < rlim_t(connections * 2 + 64) {
        printError("strata serve: the open-files limit (\(limit.rlim_cur)) is low for --max-connections \(connections)")
    }
}
