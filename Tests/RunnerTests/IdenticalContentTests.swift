import Foundation
import TestSupport
import Testing

/// The same bytes are never written again: a `touch` or an identical rewrite sets times
/// only (the receiver's file keeps its inode) and runs no action; a real change runs it once.
@Suite struct IdenticalContentTests {
    static func inode(_ path: String) -> UInt64? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? NSNumber)?.uint64Value
    }

    static func mtime(_ path: String) -> Date? {
        try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date
    }

    @Test(arguments: [false, true])
    func touchAndIdenticalRewritesRunNoActionUnlessAlways(_ always: Bool) async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for d in ["src", "module"] {
            try FileManager.default.createDirectory(atPath: dir.at(d), withIntermediateDirectories: true)
        }
        let runs = dir.at("runs")
        try dir.write(
            "receiver.lua",
            """
            settings { listen = "127.0.0.1:0" }
            module "fpm" {
              path = "module", \(always ? "on_sync_when = \"always\"," : "")
              on_sync = { { kind = "exec", argv = { "sh", "-c", "echo run >> \(runs)" } } },
            }
            """)
        let daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path)
        try dir.write("src/www.conf", "[www]\n")
        // Over 1 MiB: it goes as a delta, which tells the receiver the bytes are the same.
        let big = String(repeating: "; a comment line of a large pool file\n", count: 40_000)
        try dir.write("src/big.conf", big)
        let script = try dir.write(
            "p.lua",
            "pipeline \"p\" { source = \"src\", to = { \"runner://127.0.0.1:\(daemon.port)/fpm\" }, delay = 0.05 }\n")
        // Debug: a batch that changes no content is logged at that level.
        let runner = try RunnerProcess(["run", script, "--log-level", "debug"], logDirectory: dir.path)
        #expect(await runner.waitForLog("ready"), "\(runner.stderr)")
        func runCount() -> Int {
            ((try? String(contentsOfFile: runs, encoding: .utf8)) ?? "").split(separator: "\n").count
        }
        func synced(_ name: String) -> Bool {
            Self.mtime(dir.at("src/\(name)")) == Self.mtime(dir.at("module/\(name)"))
        }
        #expect(await eventually { runCount() == 1 && synced("www.conf") && synced("big.conf") }, "\(runner.stderr)")
        let inodes = ["www.conf", "big.conf"].map { Self.inode(dir.at("module/\($0)")) }

        // touch, then the same bytes written again, for a small and a large file.
        var expected = 1
        for name in ["www.conf", "big.conf"] {
            let future = Date().addingTimeInterval(Double(expected * 10))
            try FileManager.default.setAttributes([.modificationDate: future], ofItemAtPath: dir.at("src/\(name)"))
            #expect(await eventually { synced(name) }, "touch \(name): \(runner.stderr)")
            if always { expected += 1 }
            if name == "big.conf" {
                // Same size, only the time changed: whole-file sums agree and nothing is sent.
                #expect(
                    await eventually { MoveTests.lastBytes(runner.stderr, result: "unchanged") == 0 },
                    "\(runner.stderr)")
            }
            try dir.write("src/\(name)", name == "big.conf" ? big : "[www]\n")
            #expect(await eventually { synced(name) }, "rewrite \(name): \(runner.stderr)")
            if always { expected += 1 }
        }
        #expect(await eventually { runCount() == expected })
        #expect(["www.conf", "big.conf"].map { Self.inode(dir.at("module/\($0)")) } == inodes, "rewritten")

        // A real change runs the actions once.
        try dir.write("src/www.conf", "[www]\nlisten = 9001\n")
        #expect(await eventually { runCount() == expected + 1 && synced("www.conf") }, "\(runner.stderr)")
        runner.signal(SIGTERM)
        _ = await runner.waitForExit()
        _ = await daemon.stop()
        #expect(runCount() == expected + 1)
    }

    @Test func aFileTargetKeepsTheInodeOfAnIdenticalRewrite() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/www.conf", "[www]\n")
        let script = try dir.write(
            "p.lua", "pipeline \"p\" { source = \"src\", to = { \"file://\(dir.at("out"))\" } }\n")
        #expect(try await RunnerProcess.run(["run", "--once", script], logDirectory: dir.path).status == 0)
        let before = Self.inode(dir.at("out/www.conf"))
        try dir.write("src/www.conf", "[www]\n")
        #expect(try await RunnerProcess.run(["run", "--once", script], logDirectory: dir.path).status == 0)
        #expect(Self.inode(dir.at("out/www.conf")) == before)
        #expect(Self.mtime(dir.at("out/www.conf")) == Self.mtime(dir.at("src/www.conf")))
    }
}
