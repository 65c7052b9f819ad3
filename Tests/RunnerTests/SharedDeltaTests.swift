import Foundation
import RunnerSystem
import TestSupport
import Testing

@testable import Pipeline

/// One delta per basis: hosts that hold the same content are sent the same delta, made once;
/// a host whose content differs gets its own, and every host ends with the source's bytes.
@Suite struct SharedDeltaTests {
    /// A directory read as a stored revision is: its content cannot change, so what is made
    /// of it may be shared between hosts.
    struct StoredTree: SourceTree {
        let live: SourceDirectory
        func info(_ path: String) -> FileInfo? { live.info(path) }
        func entries(_ path: String) -> [(name: String, info: FileInfo)] { live.entries(path) }
        func readLink(_ path: String) -> String? { live.readLink(path) }
        func open(_ path: String) -> SourceContent? {
            let full = FileSystem.join(live.root, path)
            guard let info = FileInfo.lstat(full), let file = try? FileDescriptor(opening: full, O_RDONLY) else {
                return nil
            }
            return SourceContent(file: file, info: info, shown: full, live: false)
        }
        func comparesContent(_ path: String) -> Bool { false }
        var directory: String? { nil }
    }

    @Test func identicalHostsShareOneDeltaAndADifferentHostGetsItsOwn() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let old = deterministicBytes(2 << 20, seed: 5)
        var edited = old
        edited[1 << 20] &+= 1
        var other = old
        other[300_000] &+= 1
        try Data(edited).write(to: URL(fileURLWithPath: dir.at("src/edited.bin")).creatingParent())
        try Data(old + Array("grown\n".utf8)).write(to: URL(fileURLWithPath: dir.at("src/grown.bin")))
        try dir.write("src/new.conf", String(repeating: "listen = 127.0.0.1:9000\n", count: 200))
        let older = [timespec(tv_sec: 1_600_000_000, tv_nsec: 0), timespec(tv_sec: 1_600_000_000, tv_nsec: 0)]
        for (module, basis) in [("h1", old), ("h2", old), ("h3", other)] {
            for name in ["edited.bin", "grown.bin"] {
                let path = dir.at("\(module)/\(name)")
                try Data(basis).write(to: URL(fileURLWithPath: path).creatingParent())
                #expect(utimensat(AT_FDCWD, path, older, 0) == 0)
            }
        }
        try dir.write(
            "receiver.lua",
            """
            settings { listen = "127.0.0.1:0" }
            module "h1" { path = "h1" }
            module "h2" { path = "h2" }
            module "h3" { path = "h3" }
            """)
        let daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path)
        let deltas = DeltaCache()
        var outcomes: [String: SyncOutcome] = [:]
        for module in ["h1", "h2", "h3"] {
            let target = RemoteTarget(
                uri: try TargetURI(parsing: "runner://127.0.0.1:\(daemon.port)/\(module)"), command: [], deltas: deltas)
            outcomes[module] = try target.sync(
                paths: nil, moves: [:], source: StoredTree(live: SourceDirectory(root: dir.at("src"))),
                filter: try Filter(rules: []), delete: true, cancelled: { false })
            target.disconnect()
        }
        _ = await daemon.stop()
        for module in ["h1", "h2", "h3"] {
            #expect(TreeSnapshot(dir.at("src")) == TreeSnapshot(dir.at(module)), "\(module)")
            #expect(outcomes[module]?.resent == [], "\(module): \(outcomes[module].map { "\($0)" } ?? "")")
        }
        // h1 made the three (in place, against a signature, whole); h2 took them as they were;
        // h3's two bases differ from h1's, its new file does not.
        #expect(deltas.deltasMade == 5)
        #expect(outcomes["h1"]?.bytes == outcomes["h2"]?.bytes)
        #expect((outcomes["h1"]?.bytes ?? 0) < 1 << 20)
        #expect(deltas.keptBytes > 0)
    }
}

extension URL {
    /// The URL, its parent directory made first.
    fileprivate func creatingParent() throws -> URL {
        try FileManager.default.createDirectory(at: deletingLastPathComponent(), withIntermediateDirectories: true)
        return self
    }
}
