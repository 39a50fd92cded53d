// swift-tools-version: 6.0
// A probe, not part of Strata's build: see "The HTTP path's ceiling" in Tools/bench/README.md.
import PackageDescription

let package = Package(
    name: "nio-ceiling",
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(name: "nio-ceiling", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
    ]
)
