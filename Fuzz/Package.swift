// swift-tools-version: 6.0
import PackageDescription

// The libFuzzer executables, one per parser of FuzzTargets (in the package above). Built
// only by `make fuzz` (scripts/fuzz.sh), with -sanitize=fuzzer,address, which links the
// libFuzzer driver they call.
let names = ["frame", "message", "signature", "delta", "secrets", "glob", "fastcgi", "rsync-listing", "dsl"]

let package = Package(
    name: "runner-fuzz",
    dependencies: [.package(name: "runner", path: "..")],
    targets: [
        .systemLibrary(name: "CFuzzer", path: "CFuzzer"),
        .target(
            name: "FuzzDriver", dependencies: ["CFuzzer", .product(name: "FuzzTargets", package: "runner")],
            path: "Driver"),
    ]
        + names.map { name in
            .executableTarget(name: "fuzz-\(name)", dependencies: ["FuzzDriver"], path: "Harness/\(name)")
        }
)
