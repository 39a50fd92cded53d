import NIOSSL

/// How a Strata S3 endpoint listens and whom it accepts.
public struct S3ServerConfiguration: Sendable {
    /// Address to bind (loopback by default: a dev store is not exposed unless asked).
    public var host: String
    /// TCP port; 0 picks a free one (see ``S3HTTPServer/port``).
    public var port: Int
    /// The region buckets report.
    public var region: String
    /// The region requests must be signed for; nil accepts any region (the signature
    /// still covers the one the client chose). `strata serve` sets it to ``region`` only
    /// when a region was configured.
    public var signingRegion: String? = nil
    /// Base domain for virtual-hosted-style requests (`bucket.DOMAIN`); nil: path style only.
    public var domain: String?
    /// Access key id → secret key. The root credentials.
    public var credentials: [String: String] {
        didSet { users = UserDirectory(root: credentials) }
    }
    /// Everyone who can sign requests: the root credentials and the users file
    /// (``UserDirectory/init(root:usersFile:)``).
    public var users: UserDirectory
    /// A connection with no traffic in either direction for this long is closed.
    public var idleTimeoutSeconds: Int64
    /// A request head must arrive complete within this long (from the end of the previous
    /// response, or the connection's start); otherwise the connection is closed. Bounds
    /// idle keep-alive connections and clients that trickle their headers.
    public var headerTimeoutSeconds: Int64 = 60
    /// Largest accepted request head (request line and headers).
    public var maxHeaderBytes: Int
    /// Multipart uploads older than this are aborted (unless a bucket lifecycle rule
    /// `AbortIncompleteMultipartUpload` says otherwise for their key).
    public var abandonedUploadMaxAgeSeconds: Int64
    /// How often the lifecycle worker runs (aborts abandoned uploads, expires objects).
    public var uploadSweepIntervalSeconds: Int64
    /// How long one lifecycle day lasts, in seconds: 86 400, or less to watch lifecycle
    /// rules act in a test (`strata serve --lifecycle-day-seconds`).
    public var lifecycleDaySeconds: Int64 = 86_400

    /// Background compaction takes sealed segments whose dead ratio is at least this
    /// (also the default of `strata compact --server`).
    public var compactionThreshold: Double
    /// How often background compaction looks at the segments; 0 turns it off.
    public var compactionIntervalSeconds: Int64

    /// Whether each request is logged (at info level) with its method, bucket, key,
    /// status, bytes, duration, request id and access key.
    public var accessLog: Bool

    /// Connections served at once; one more gets 503 SlowDown and is closed.
    public var maxConnections: Int

    /// HTTPS instead of HTTP (see ``TLSSetup``). Object bodies then go out through
    /// buffered reads: TLS cannot carry sendfile's file regions.
    public var tls: TLSConfiguration?

    /// The master key and KMS key list of SSE-S3 and SSE-KMS. The default lives only in
    /// memory (an in-process test server); `strata serve` keeps its master key in the data
    /// directory or reads `--master-key-file`.
    public var keyRing: KeyRing = .ephemeral()

    /// Fault rules in force from the start (`strata serve --faults FILE`); more come and go
    /// through `/_strata/faults`. Empty by default: no request is faulted.
    public var faults: [FaultRule] = []

    /// The buckets the server makes at start for the root credentials (`strata serve
    /// --bucket`); a reset (`POST /_strata/reset`) makes them again, so the store is as
    /// the server started.
    public var startupBuckets: [String] = []

    /// The credentials `strata serve` uses when none are given (printed at start-up).
    public static let defaultAccessKey = "strata-access-key"
    /// See ``defaultAccessKey``.
    public static let defaultSecretKey = "strata-secret-key"

    /// Creates a configuration; every value has a dev-friendly default.
    public init(host: String = "127.0.0.1", port: Int = 9000, region: String = "us-east-1", domain: String? = nil,
                credentials: [String: String] = [defaultAccessKey: defaultSecretKey],
                idleTimeoutSeconds: Int64 = 300, maxHeaderBytes: Int = 64 * 1024,
                abandonedUploadMaxAgeSeconds: Int64 = 86_400, uploadSweepIntervalSeconds: Int64 = 600,
                compactionThreshold: Double = 0.5, compactionIntervalSeconds: Int64 = 60, accessLog: Bool = false,
                maxConnections: Int = 1024, tls: TLSConfiguration? = nil) {
        self.host = host
        self.port = port
        self.region = region
        self.domain = domain
        self.credentials = credentials
        self.users = UserDirectory(root: credentials)
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.maxHeaderBytes = maxHeaderBytes
        self.abandonedUploadMaxAgeSeconds = abandonedUploadMaxAgeSeconds
        self.uploadSweepIntervalSeconds = uploadSweepIntervalSeconds
        self.compactionThreshold = compactionThreshold
        self.compactionIntervalSeconds = compactionIntervalSeconds
        self.accessLog = accessLog
        self.maxConnections = maxConnections
        self.tls = tls
    }
}
