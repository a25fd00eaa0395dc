// swift-tools-version: 6.0
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "reelfarm",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "reelfarm", targets: ["reelfarm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
    ],
    targets: [
        // C libraries, each behind a thin system-library target imported by exactly one Swift module.
        .systemLibrary(name: "CFFmpeg", pkgConfig: "libavformat", providers: [.apt(["libavformat-dev"])]),
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        .target(
            name: "FarmCore",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // Child processes started with posix_spawn, leaking no descriptor to a sibling (Foundation's Process does).
        .target(name: "FarmPosix", swiftSettings: swiftSettings),
        .target(name: "FarmTestCard", dependencies: ["FarmCore"], swiftSettings: swiftSettings),
        .target(
            name: "FarmMedia", dependencies: ["FarmCore", "CFFmpeg"], exclude: ["ChunkFormat.md"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FarmWire",
            dependencies: ["FarmCore", "CZeroMQ", .product(name: "Crypto", package: "swift-crypto")],
            exclude: ["PROTOCOL.md"],
            swiftSettings: swiftSettings
        ),
        .target(name: "FarmInference", dependencies: ["FarmCore", "COpenBLAS"], swiftSettings: swiftSettings),
        .target(
            name: "FarmRender",
            dependencies: ["FarmCore", "FarmTestCard", "FarmMedia", "FarmInference"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FarmStore",
            dependencies: [
                "FarmCore", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FarmCoordinator",
            dependencies: [
                "FarmCore", "FarmWire", "FarmStore", "FarmMedia", "FarmPosix",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "FlyingFox", package: "FlyingFox"), .product(name: "FlyingSocks", package: "FlyingFox"),
            ],
            // The dashboard's pages and the API's OpenAPI document, compiled into the binary.
            resources: [
                .embedInCode("HTTP/Assets/index.html"), .embedInCode("HTTP/Assets/app.js"),
                .embedInCode("HTTP/Assets/app.css"), .embedInCode("HTTP/openapi.yaml"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FarmWorker",
            dependencies: ["FarmCore", "FarmWire", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FarmEngineHost", dependencies: ["FarmCore", "FarmWire", "FarmPosix"], exclude: [],
            swiftSettings: swiftSettings
        ),
        .target(name: "FarmTesting", dependencies: ["FarmCore", "FarmPosix"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "reelfarm",
            dependencies: [
                "FarmCore", "FarmRender", "FarmMedia", "FarmTestCard", "FarmInference",
                "FarmWire", "FarmStore", "FarmCoordinator", "FarmWorker", "FarmEngineHost", "FarmPosix",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // Fuzz targets for every parser of network or file input; Scripts/fuzz builds them with libFuzzer.
        .executableTarget(
            name: "FarmFuzz", dependencies: ["FarmCore", "FarmWire", "FarmMedia", "FarmInference", "FarmEngineHost"],
            swiftSettings: swiftSettings
        ),

        .testTarget(name: "FarmPosixTests", dependencies: ["FarmPosix"], swiftSettings: swiftSettings),
        .testTarget(name: "FarmCoreTests", dependencies: ["FarmCore", "FarmTesting"], swiftSettings: swiftSettings),
        .testTarget(
            name: "FarmTestCardTests",
            dependencies: ["FarmCore", "FarmTestCard", "FarmTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "FarmMediaTests", dependencies: ["FarmMedia", "FarmCore", "FarmTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "FarmWireTests", dependencies: ["FarmWire", "FarmCore", "FarmTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "FarmStoreTests", dependencies: ["FarmStore", "FarmCore", .product(name: "GRDB", package: "GRDB.swift")],
                    swiftSettings: swiftSettings),
        .testTarget(
            name: "FarmCoordinatorTests",
            dependencies: [
                "FarmCoordinator", "FarmWorker", "FarmWire", "FarmStore", "FarmCore", "FarmRender", "FarmTesting", "FarmPosix",
                "reelfarm",
                .product(name: "Yams", package: "Yams"), .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FarmInferenceTests", dependencies: ["FarmInference", "FarmCore", "FarmTesting"], exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FarmEngineHostTests",
            dependencies: ["FarmEngineHost", "FarmCore", "FarmWire", "FarmTestCard", "FarmTesting", "reelfarm"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FarmRenderTests",
            dependencies: ["FarmRender", "FarmCore", "FarmTestCard", "FarmMedia", "FarmTesting", "reelfarm"],
            swiftSettings: swiftSettings
        ),
    ]
)
