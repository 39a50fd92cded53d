// swift-tools-version: 6.0
import PackageDescription

/// `make check` sets STRATA_WARNINGS_AS_ERRORS=1: our own targets then build with warnings
/// as errors (dependencies are not affected).
let strict: [SwiftSetting] = Context.environment["STRATA_WARNINGS_AS_ERRORS"] == "1" ? [.unsafeFlags(["-warnings-as-errors"])] : []

let package = Package(
    name: "Strata",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "strata", targets: ["strata"]),
        // An in-process server for Swift test suites (Examples/ shows its use).
        .library(name: "StrataTesting", targets: ["StrataTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // C libraries from Debian's -dev packages.
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // libdeflate's CRC-32 (the same checksum as zlib's, computed with carry-less
        // multiplication where the CPU has it).
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),

        // System calls Swift's Glibc module does not declare (sync_file_range, mallopt).
        .target(name: "CSystemShims"),
        // Segment files and records: append, read, scan, seal, checksums, group commit.
        .target(name: "SegmentLog", dependencies: [
            "CZlib", "CDeflate", "CSystemShims",
            .product(name: "NIOCore", package: "swift-nio"),
        ], swiftSettings: strict),
        // Typed LMDB tables.
        .target(name: "ObjectIndex", dependencies: ["CLMDB"], swiftSettings: strict),
        // S3 semantics on top of the engine.
        .target(name: "ObjectStore", dependencies: [
            "SegmentLog", "ObjectIndex",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // The S3 HTTP front: SigV4, aws-chunked bodies, checksums, S3 XML and errors.
        .target(name: "S3Server", dependencies: [
            "ObjectStore", "CDeflate",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
        ], swiftSettings: strict),
        // A server inside a test process: ephemeral store, free port, credentials, stop.
        .target(name: "StrataTesting", dependencies: [
            "S3Server", "ObjectStore",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .executableTarget(name: "strata", dependencies: [
            "S3Server", "ObjectStore", "SegmentLog", "CSystemShims",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], swiftSettings: strict),

        // Tools: not shipped in the binary.
        .executableTarget(name: "strata-crashwriter", dependencies: [
            "ObjectStore",
            .product(name: "Crypto", package: "swift-crypto"),
        ], path: "Tools/CrashWriter", swiftSettings: strict),

        // What the test targets share (temporary directories, test bytes).
        .target(name: "StrataTestSupport", path: "Tests/StrataTestSupport", swiftSettings: strict),
        .testTarget(name: "SegmentLogTests", dependencies: ["SegmentLog", "StrataTestSupport"], swiftSettings: strict),
        // The index's tables, with ObjectStore's key encoding (its byte order is S3's).
        .testTarget(name: "ObjectIndexTests", dependencies: ["ObjectIndex", "ObjectStore"], swiftSettings: strict),
        .testTarget(name: "S3ServerTests", dependencies: [
            "S3Server", "ObjectStore", "StrataTestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .testTarget(name: "StrataTestingTests", dependencies: ["StrataTesting"], swiftSettings: strict),
        .testTarget(name: "ObjectStoreTests", dependencies: [
            "ObjectStore", "SegmentLog", "ObjectIndex", "StrataTestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
