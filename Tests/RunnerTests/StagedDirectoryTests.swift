import Foundation
import TestSupport
import Testing

/// A directory the target lacks is staged whole and renamed into place as one entry: it
/// arrives with everything in it, its own mode and times, the counts of a file-by-file
/// commit, and a batch that is refused leaves none of it.
@Suite struct StagedDirectoryTests {
    static func mtime(_ path: String) -> Int? {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mtim.tv_sec : nil
    }

    @Test(arguments: ["file", "runner"])
    func newDirectoriesArriveWholeWithTheirModesAndTimes(_ scheme: String) async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for name in ["pool/a.conf", "pool/sub/b.conf", "pool/sub/deep/c.conf", "top.conf"] {
            try dir.write("src/" + name, "[\(name)]\n")
        }
        try FileManager.default.createSymbolicLink(atPath: dir.at("src/pool/link.conf"), withDestinationPath: "a.conf")
        try FileManager.default.createDirectory(atPath: dir.at("module/pool-old"), withIntermediateDirectories: true)
        chmod(dir.at("src/pool/sub"), 0o750)
        chmod(dir.at("src/pool/sub/deep"), 0o700)
        let past = Date().addingTimeInterval(-7200)
        for d in ["pool/sub/deep", "pool/sub", "pool"] {
            try FileManager.default.setAttributes([.modificationDate: past], ofItemAtPath: dir.at("src/" + d))
        }
        let (target, daemon) = try await moduleTarget(scheme, in: dir)
        try dir.write("p.lua", "pipeline \"p\" { source = \"src\", to = \"\(target)\", delete = true }\n")
        let r = try await RunnerProcess.run(["run", "--once", dir.at("p.lua")], logDirectory: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(TreeSnapshot(dir.at("src")) == TreeSnapshot(dir.at("module")))
        for d in ["pool", "pool/sub", "pool/sub/deep"] {
            #expect(Self.mtime(dir.at("module/" + d)) == Self.mtime(dir.at("src/" + d)), "\(d)'s time")
        }
        // Four files and a link written, one directory deleted, as a commit file by file counts them.
        #expect(r.stderr.contains("deleted=1") && r.stderr.contains("written=5"), "\(r.stderr)")
        _ = await daemon?.stop()
    }

    /// A first sync of a million files in 100,000 new directories ran out of descriptors:
    /// each directory staged whole kept one open. Here 500 of them under a limit of 64.
    @Test func manyNewDirectoriesNeedFewDescriptors() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for i in 0..<500 { try dir.write("src/d\(i / 50)/e\(i)/pool.conf", "[\(i)]\n") }
        try dir.write("p.lua", "pipeline \"p\" { source = \"src\", to = \"file://\(dir.at("module"))\" }\n")
        let r = try sh(
            "ulimit -n 64; RUNNER_PLUGIN_PATH=/nonexistent XDG_STATE_HOME=\(dir.at("state")) \(RunnerProcess.binary) run --once p.lua",
            in: dir.path)
        #expect(r.status == 0, "\(r.output)")
        #expect(TreeSnapshot(dir.at("src")) == TreeSnapshot(dir.at("module")))
    }

    @Test func aRefusedBatchLeavesNoneOfANewDirectory() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/www.conf", "[www]\n")
        try dir.write("src/new/pool/broken.conf", "broken\n")
        try FileManager.default.createDirectory(atPath: dir.at("module"), withIntermediateDirectories: true)
        try dir.write(
            "receiver.lua",
            """
            settings { listen = "127.0.0.1:0" }
            module "fpm" { path = "module", on_sync = { { kind = "exec", validate = true,
              argv = { "sh", "-c", "! grep -rqs broken \\"$RUNNER_MODULE_PATH\\"" } } } }
            """)
        let daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path)
        try dir.write(
            "p.lua", "pipeline \"p\" { source = \"src\", to = \"runner://127.0.0.1:\(daemon.port)/fpm\" }\n")
        let r = try await RunnerProcess.run(["run", "--once", dir.at("p.lua")], logDirectory: dir.path)
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("rolled back"), "\(r.stderr)")
        #expect(TreeSnapshot(dir.at("module")).entries.isEmpty, "the refused batch left something")
        // The session's staging goes with the session.
        #expect(await eventually { !FileManager.default.fileExists(atPath: dir.at(".module.runner-staging")) })
        _ = await daemon.stop()
    }
}
