// swift-tools-version: 6.0
import PackageDescription

let packageRoot = String(#filePath.dropLast("/Package.swift".count))

let package = Package(
    name: "runner",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "runner", targets: ["runner"]),
        // The parsers fed arbitrary bytes: by the libFuzzer executables of Fuzz/ (`make fuzz`).
        .library(name: "FuzzTargets", targets: ["FuzzTargets"]),
    ],
    // Exact versions, of what is built in below them too (swift-metrics, swift-atomics):
    // runner is an application, and a build is what was tested. Package.resolved cannot
    // carry the pins (its commit ids differ between the package mirror and a fresh machine),
    // so it stays untracked. (swift-asn1 is resolved for swift-crypto but never built.)
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        // 4.x, not 3.x: 3.x imports all of Foundation, which links ICU's 34 MB of data.
        .package(url: "https://github.com/apple/swift-crypto", exact: "4.5.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", exact: "2.0.1"),
        // 2.x needs no Foundation (only swift-atomics and swift-metrics' CoreMetrics).
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-atomics", exact: "1.3.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLua",
            pkgConfig: "lua5.4",
            providers: [.apt(["liblua5.4-dev"]), .brew(["lua"])]
        ),
        .systemLibrary(
            name: "CXXHash", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"]), .brew(["xxhash"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]),
        .systemLibrary(name: "CLinux"),
        // The platform floor every stage stands on: files, descriptors, processes, signals, clocks.
        .target(name: "RunnerSystem", dependencies: ["CLinux", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "Pipeline",
            dependencies: [
                "RunnerSystem", "CLinux", "CXXHash", "CZstd",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // Built in by Prometheus; named here so that their pins above hold.
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        // A safe Lua state (values, functions, errors); it knows nothing of Pipeline.
        .target(name: "LuaKit", dependencies: ["CLua"]),
        // The DSL: scripts to configuration, Lua callbacks as hooks.
        .target(name: "LuaBridge", dependencies: ["LuaKit", "Pipeline", "RunnerSystem"]),
        .executableTarget(
            name: "runner",
            dependencies: [
                "Pipeline", "LuaBridge", "LuaKit", "RunnerSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // lld instead of gold: packed relative relocations (DT_RELR) keep a position-
            // independent binary without the ~1 MB relocation table ld.so reads at every start,
            // and the functions of scripts/link-order.txt (what runner runs, recorded by
            // scripts/link-order.sh) sit together, so a process touches fewer code pages.
            // `-z now`: every symbol bound at start, so the whole GOT is read-only (full RELRO)
            // in a daemon that runs as root.
            linkerSettings: [
                .unsafeFlags(["-use-ld=lld"]),
                .unsafeFlags(
                    [
                        "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "-z", "-Xlinker", "now",
                        "-Xlinker", "--symbol-ordering-file=\(packageRoot)/scripts/link-order.txt",
                        "-Xlinker", "--no-warn-symbol-ordering",
                    ], .when(configuration: .release)),
            ]
        ),
        // Shared by the test targets: temp dirs, tree comparison, polling, the built binary.
        .target(name: "TestSupport", dependencies: ["RunnerSystem"], path: "Tests/TestSupport"),
        .testTarget(
            name: "PipelineTests",
            dependencies: [
                "Pipeline", "RunnerSystem", "TestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(name: "LuaKitTests", dependencies: ["LuaKit", "TestSupport"]),
        .testTarget(
            name: "LuaBridgeTests", dependencies: ["LuaBridge", "LuaKit", "Pipeline", "RunnerSystem", "TestSupport"]),
        // Each parser that reads what a peer, a file or a user wrote, as one function of
        // bytes; built with @testable imports, so debug builds only (`make fuzz`, `make test`).
        .target(
            name: "FuzzTargets",
            dependencies: [
                "Pipeline", "LuaBridge", "LuaKit", "TestSupport", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Fuzz/Targets"
        ),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets"], path: "Fuzz/Tests"),
        .testTarget(name: "RunnerTests", dependencies: ["Pipeline", "RunnerSystem", "TestSupport"]),
    ]
)
