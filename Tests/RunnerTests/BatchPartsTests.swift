import Foundation
import TestSupport
import Testing

@testable import Pipeline

/// A batch planned as it is sent: part by part, each part's block sums and signatures asked
/// between two parts of the one batch, committed once, with the module's actions told every
/// path it changed (those inside a new directory too, which the receiver does not list one by one).
@Suite struct BatchPartsTests {
    @Test func aBatchSentInPartsGetsItsDeltasBetweenThePartsAndCommitsOnce() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let old = deterministicBytes(2 << 20, seed: 11)
        var edited = old
        edited[1 << 20] &+= 1
        let grown = old + Array("appended\n".utf8)
        for tree in ["src", "module"] {
            for i in 0..<4 { try dir.write("\(tree)/a/f\(i).conf", "[\(i)]\n") }
        }
        try Data(old).write(to: URL(fileURLWithPath: dir.at("module/m-edited.bin")))
        try Data(old).write(to: URL(fileURLWithPath: dir.at("module/z-grown.bin")))
        // Same size as the source's, written within one clock tick: given an old mtime, or the
        // quick check would pass it as equal once the plan comes two seconds later under load.
        var older = [timespec(tv_sec: 1_600_000_000, tv_nsec: 0), timespec(tv_sec: 1_600_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, dir.at("module/m-edited.bin"), &older, 0) == 0)
        try Data(edited).write(to: URL(fileURLWithPath: dir.at("src/m-edited.bin")))
        try Data(grown).write(to: URL(fileURLWithPath: dir.at("src/z-grown.bin")))
        for i in 0..<6 { try dir.write("src/n/d\(i % 2)/e\(i).conf", "[new \(i)]\n") }
        try dir.write("module/gone.conf", "x\n")
        try dir.write(
            "receiver.lua",
            """
            settings { listen = "127.0.0.1:0" }
            module "fpm" { path = "module", on_sync = { { kind = "exec",
              argv = { "sh", "-c", "printf '%s\\\\n' \\"$RUNNER_PATHS\\" > \(dir.at("paths"))" } } } }
            """)
        let daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path)
        let target = RemoteTarget(uri: try TargetURI(parsing: "runner://127.0.0.1:\(daemon.port)/fpm"), command: [])
        target.partSize = 3
        let outcome = try target.sync(
            paths: nil, moves: [:], source: SourceDirectory(root: dir.at("src")), filter: try Filter(rules: []),
            delete: true, cancelled: { false })
        target.disconnect()
        _ = await daemon.stop()
        #expect(TreeSnapshot(dir.at("src")) == TreeSnapshot(dir.at("module")))
        // Both large files went as deltas: what they share with the module's copies stayed there.
        #expect(outcome.matched >= 2 * Int64(old.count) - (1 << 20), "\(outcome)")
        #expect(outcome.bytes < 1 << 20, "\(outcome)")
        #expect(outcome.written == 8 && outcome.deleted == 1, "\(outcome)")
        let told = Set(try String(contentsOfFile: dir.at("paths"), encoding: .utf8).split(separator: "\n"))
        let expected: Set<Substring> = [
            "n", "n/d0", "n/d1", "n/d0/e0.conf", "n/d0/e2.conf", "n/d0/e4.conf", "n/d1/e1.conf", "n/d1/e3.conf",
            "n/d1/e5.conf", "m-edited.bin", "z-grown.bin", "gone.conf",
            // Its time changed: its files were written at other times here.
            "a",
        ]
        #expect(told == expected)
    }
}

/// A plan of the whole module lists it directory by directory as the walk goes (a few
/// directories held at a time): what it finds must be what a listing of the whole tree shows.
@Suite struct ModuleWalkTests {
    /// A module that differs from the source in every way a walk meets: directories to
    /// delete, kinds swapped, a symlink where the source has a directory, and more
    /// directories side by side than one request lists.
    static func trees(_ dir: TemporaryDirectory) throws {
        for i in 0..<150 {
            try dir.write("src/wide/w\(i)/pool.conf", "[\(i)]\n")
            if i % 3 != 0 { try dir.write("module/wide/w\(i)/pool.conf", i % 2 == 0 ? "[\(i)]\n" : "stale content\n") }
        }
        try dir.write("module/wide/w7/extra/deep/x.conf", "x\n")
        try dir.write("src/a/b/c/d.conf", "d\n")
        try dir.write("module/a/b", "a file where the source has a directory\n")
        try dir.write("src/kind", "a file where the module has a directory\n")
        try dir.write("module/kind/inside.conf", "x\n")
        try dir.write("src/linked/real.conf", "real\n")
        try dir.write("outside/real.conf", "never touched\n")
        symlink(dir.at("outside"), dir.at("module/linked"))
        try dir.write("module/gone/deep/er/x.conf", "x\n")
        try dir.write(
            "receiver.lua", "settings { listen = \"127.0.0.1:0\" }\nmodule \"fpm\" { path = \"module\" }\n")
    }

    @Test(arguments: [true, false])
    func aModuleListedAsTheWalkGoesEndsEqualToTheSource(delete: Bool) async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Self.trees(dir)
        let daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path)
        let target = RemoteTarget(uri: try TargetURI(parsing: "runner://127.0.0.1:\(daemon.port)/fpm"), command: [])
        target.partSize = 16
        _ = try target.sync(
            paths: nil, moves: [:], source: SourceDirectory(root: dir.at("src")), filter: try Filter(rules: []),
            delete: delete, cancelled: { false })
        target.disconnect()
        _ = await daemon.stop()
        let source = TreeSnapshot(dir.at("src")), module = TreeSnapshot(dir.at("module"))
        if delete {
            #expect(source.differences(from: module) == [])
        } else {
            // Everything of the source arrived; what only the module had stayed.
            #expect(source.entries.filter { module.entries[$0.key] != $0.value }.map(\.key) == [])
            #expect(module.entries["gone/deep/er/x.conf"] != nil && module.entries["wide/w7/extra/deep/x.conf"] != nil)
        }
        #expect(try String(contentsOfFile: dir.at("outside/real.conf"), encoding: .utf8) == "never touched\n")
    }
}
