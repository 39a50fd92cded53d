// swift-tools-version: 6.0
import PackageDescription

// An application package whose tests run against Strata in-process, through the
// StrataTesting library. `make test` builds and tests it.
let package = Package(
    name: "ReportUploader",
    platforms: [.macOS(.v15)],
    dependencies: [
        // In your own package, depend on the repository by URL instead:
        //   .package(url: "https://…/strata.git", from: "0.12.0"),
        .package(name: "Strata", path: "../.."),
    ],
    targets: [
        .target(name: "ReportUploader"),
        .testTarget(name: "ReportUploaderTests", dependencies: [
            "ReportUploader",
            .product(name: "StrataTesting", package: "Strata"),
        ]),
    ]
)
