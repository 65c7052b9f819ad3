import Foundation
import Pipeline
import TestSupport
import Testing

/// `runner run` through the built binary, on real directories with real inotify.
@Suite struct RunEndToEndTests {
    /// A source tree, a target path and a pipeline script in one temp dir.
    struct Fixture {
        let dir: TemporaryDirectory
        var source: String { dir.at("src") }
        var target: String { dir.at("dst") }
        var script: String { dir.at("pipeline.lua") }

        init(delay: Double = 0.05, extra: String = "") throws {
            dir = try TemporaryDirectory()
            try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
            try dir.write(
                "pipeline.lua",
                """
                local tempfiles = require "tempfiles"
                pipeline "t" {
                  source = "src",
                  to = "file://\(dir.at("dst"))",
                  ignore = { tempfiles.all, "*.bak", "/drafts/" },
                  delay = \(delay),
                  delete = true,
                  \(extra)
                }
                """)
        }

        /// The source minus what the pipeline ignores.
        var expected: TreeSnapshot {
            TreeSnapshot(source) { path in
                let name = (path as NSString).lastPathComponent
                return name.hasSuffix(".bak") || path == "drafts" || name.hasSuffix(".swp") || name == "4913"
                    || name.range(of: #"^\..*\.[A-Za-z0-9]{6}$"#, options: .regularExpression) != nil
            }
        }

        func inSync() -> Bool { expected == TreeSnapshot(target) }
    }

    @Test func onceMakesTargetEqualToSourceMinusIgnored() async throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        try f.dir.write("src/www.conf", "[www]\n")
        try f.dir.write("src/api.conf", "[api]\n", mode: 0o600)
        try f.dir.write("src/sub/deep/x.conf", "x", mode: 0o755)
        try f.dir.write("src/old.bak", "ignored")
        try f.dir.write("src/.www.conf.swp", "ignored")
        try f.dir.write("src/drafts/d.conf", "ignored")
        try f.dir.write("dst/stale.conf", "deleted by delete = true")
        let r = try await RunnerProcess.run(["run", f.script, "--once"], logDirectory: f.dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(f.inSync(), "\(f.expected.differences(from: TreeSnapshot(f.target)))")
        #expect(
            TreeSnapshot(f.target).entries.keys.sorted() == [
                "api.conf", "sub", "sub/deep", "sub/deep/x.conf", "www.conf",
            ])
    }

    @Test func dryRunWritesNothingAndSaysWhy() async throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        try f.dir.write("src/www.conf", "[www]\n")
        try f.dir.write("src/.www.conf.Ab12Cd", "rsync temp")
        let r = try await RunnerProcess.run(["run", f.script, "--once", "--dry-run"], logDirectory: f.dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: f.target))
        #expect(r.stdout.contains("www.conf: send (6 bytes) to file://\(f.target)"), "\(r.stdout)")
        #expect(r.stdout.contains(".www.conf.Ab12Cd: ignored by tempfiles.rsync"), "\(r.stdout)")
    }

    @Test func runningPipelinePicksUpCreateEditReplaceAndDelete() async throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        try f.dir.write("src/www.conf", "v1\n")
        try f.dir.write("src/gone.conf", "bye\n")
        let runner = try RunnerProcess(["run", f.script], logDirectory: f.dir.path)
        #expect(await runner.waitForLog("ready"), "\(runner.stderr)")
        #expect(await eventually { f.inSync() })

        // Create.
        try f.dir.write("src/new.conf", "new\n")
        #expect(await eventually { f.inSync() }, "create: \(runner.stderr)")
        // In-place edit (same inode).
        let h = try #require(FileHandle(forWritingAtPath: f.dir.at("src/www.conf")))
        h.seekToEndOfFile()
        h.write(Data("edited in place\n".utf8))
        try h.close()
        #expect(await eventually { f.inSync() }, "edit: \(runner.stderr)")
        // Replace by rename, with an rsync-style temp name that must never arrive.
        try f.dir.write("src/.www.conf.Q1w2E3", "replaced\n")
        #expect(rename(f.dir.at("src/.www.conf.Q1w2E3"), f.dir.at("src/www.conf")) == 0)
        #expect(await eventually { f.inSync() }, "replace: \(runner.stderr)")
        // Delete.
        try FileManager.default.removeItem(atPath: f.dir.at("src/gone.conf"))
        #expect(await eventually { f.inSync() }, "delete: \(runner.stderr)")
        // The file replaced by rename is still watched: a later in-place edit arrives.
        let h2 = try #require(FileHandle(forWritingAtPath: f.dir.at("src/www.conf")))
        h2.write(Data("X".utf8))
        try h2.close()
        #expect(await eventually { f.inSync() }, "edit after replace: \(runner.stderr)")

        runner.signal(SIGTERM)
        #expect(await runner.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: f.dir.at(".dst.runner-staging")))
    }

    @Test func newDirectoryWithFilesWrittenAtOnceArrives() async throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        let runner = try RunnerProcess(["run", f.script], logDirectory: f.dir.path)
        #expect(await runner.waitForLog("ready"))
        try FileManager.default.createDirectory(atPath: f.dir.at("src/a/b/c"), withIntermediateDirectories: true)
        try f.dir.write("src/a/b/c/f.conf", "deep\n")
        try f.dir.write("src/a/b/c/.f.conf.swp", "noise")
        #expect(await eventually { f.inSync() }, "\(runner.stderr)")
        #expect(!FileManager.default.fileExists(atPath: f.dir.at("dst/a/b/c/.f.conf.swp")))
        runner.signal(SIGINT)
        #expect(await runner.waitForExit() == 0)
    }

    @Test func tempFilesAloneNeverStartABatch() async throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        try f.dir.write("src/a.conf", "a")
        let runner = try RunnerProcess(["run", f.script, "--log-level", "trace"], logDirectory: f.dir.path)
        #expect(await runner.waitForLog("ready"))
        try f.dir.write("src/.a.conf.swp", "swap")
        try f.dir.write("src/4913", "")
        // rsync's and sed's temp names, created and renamed away as those tools do.
        try f.dir.write("src/.a.conf.Zx81Qw", "rsync temp")
        #expect(rename(f.dir.at("src/.a.conf.Zx81Qw"), f.dir.at("src/.b.conf.Yq72Pe")) == 0)
        try f.dir.write("src/sedK3j9Qa", "sed temp")
        try FileManager.default.removeItem(atPath: f.dir.at("src/sedK3j9Qa"))
        // Once the runner has seen the last of the noise, a real change: the only
        // batch holds that one path, and no temp file reached the target.
        #expect(await runner.waitForLog("path=sedK3j9Qa"))
        try f.dir.write("src/b.conf", "b")
        #expect(await eventually { f.inSync() })
        #expect(await runner.waitForLog("revision 2:"))
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit() == 0)
        let cuts = runner.stderr.split(separator: "\n").filter { $0.contains("batch cut") }
        #expect(cuts.count == 1 && cuts[0].contains("paths=1"), "\(cuts)")
        #expect(TreeSnapshot(f.target).entries.keys.sorted() == ["a.conf", "b.conf"])
    }

    @Test func checkHoldsABatchAndAfterSeesEachResult() async throws {
        let f = try Fixture(
            extra: """
                check = function(batch)
                  for _, p in ipairs(batch.paths) do if p:find("hold") then return false, "held: " .. p end end
                end,
                after = function(host, result) runner.log("notice", "after " .. result.status .. " " .. result.written) end,
                """)
        defer { f.dir.remove() }
        let runner = try RunnerProcess(["run", f.script], logDirectory: f.dir.path)
        #expect(await runner.waitForLog("ready"))
        try f.dir.write("src/hold.conf", "x")
        #expect(await runner.waitForLog("held by check: held: hold.conf"))
        #expect(!FileManager.default.fileExists(atPath: f.dir.at("dst/hold.conf")))
        try FileManager.default.removeItem(atPath: f.dir.at("src/hold.conf"))
        try f.dir.write("src/ok.conf", "x")
        #expect(await runner.waitForLog("after applied 1"), "\(runner.stderr)")
        #expect(await eventually { f.inSync() })
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit() == 0)
    }

    @Test func singleFileSourceWatchesItsDirectoryAndSyncsOnlyTheFile() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("etc/www.conf", "v1\n")
        try dir.write("etc/other.conf", "not part of the pipeline\n")
        try dir.write(
            "p.lua",
            """
            local tempfiles = require "tempfiles"
            pipeline "one" { source = "etc/www.conf", to = "file://\(dir.at("dst"))", ignore = { tempfiles.all }, delay = 0.05, delete = true }
            """)
        try dir.write("dst/unrelated", "kept: delete only concerns the file")
        let runner = try RunnerProcess(["run", dir.at("p.lua")], logDirectory: dir.path)
        #expect(await runner.waitForLog("ready"))
        func mirrored(_ text: String) -> Bool {
            (try? String(contentsOfFile: dir.at("dst/www.conf"), encoding: .utf8)) == text
        }
        #expect(await eventually { mirrored("v1\n") })
        // Replaced by rename (sed -i), then edited in place: both arrive.
        #expect(try sh("sed -i 's/v1/v2/' www.conf", in: dir.at("etc")).status == 0)
        #expect(await eventually { mirrored("v2\n") })
        #expect(try sh("echo v3 >> www.conf && echo x >> other.conf", in: dir.at("etc")).status == 0)
        #expect(await eventually { mirrored("v2\nv3\n") })
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit() == 0)
        #expect(TreeSnapshot(dir.at("dst")).entries.keys.sorted() == ["unrelated", "www.conf"])
    }

    @Test func fileWrittenByAWriterThatKeepsItOpenIsSentOnceStable() async throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        let runner = try RunnerProcess(["run", f.script], logDirectory: f.dir.path)
        #expect(await runner.waitForLog("ready"))
        FileManager.default.createFile(atPath: f.dir.at("src/open.log"), contents: nil)
        let h = try #require(FileHandle(forWritingAtPath: f.dir.at("src/open.log")))
        defer { try? h.close() }
        h.write(Data("part one\n".utf8))
        h.write(Data("part two\n".utf8))
        // No close: the file still arrives whole once it stopped changing.
        #expect(
            await eventually {
                (try? String(contentsOfFile: f.dir.at("dst/open.log"), encoding: .utf8)) == "part one\npart two\n"
            },
            "\(runner.stderr)")
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit() == 0)
    }
}

/// A crash in the middle of a commit: the next start puts the old tree back, never a mix.
@Suite struct CrashRecoveryTests {
    @Test func killedMidCommitLeavesTheOldTreeAfterRecovery() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for i in 0..<10 { try dir.write("src/f\(i).conf", "v1 \(i)\n") }
        try dir.write("src/gone.conf", "deleted in the second batch\n")
        try dir.write("p.lua", "pipeline \"c\" { source = \"src\", to = \"file://\(dir.at("dst"))\", delete = true }\n")
        let first = try await RunnerProcess.run(["run", dir.at("p.lua"), "--once"], logDirectory: dir.path)
        #expect(first.status == 0, "\(first.stderr)")
        let old = TreeSnapshot(dir.at("dst"))

        for i in 0..<10 { try dir.write("src/f\(i).conf", "v2 \(i), longer\n") }
        try FileManager.default.removeItem(atPath: dir.at("src/gone.conf"))
        try dir.write("src/new/dir/n.conf", "new\n")
        let crashed = try await RunnerProcess.run(
            ["run", dir.at("p.lua"), "--once"],
            environment: ["RUNNER_DEBUG_CRASH_AFTER_RENAMES": "5"], logDirectory: dir.path)
        #expect(crashed.status == SIGKILL, "the hook kills the process mid-commit")
        let mixed = TreeSnapshot(dir.at("dst"))
        #expect(mixed != old && mixed != TreeSnapshot(dir.at("src")), "the crash left a half-applied batch")

        // Opening the target again rolls the batch back.
        _ = try LocalTarget(root: dir.at("dst"))
        #expect(TreeSnapshot(dir.at("dst")) == old, "\(TreeSnapshot(dir.at("dst")).differences(from: old))")
        #expect(!FileManager.default.fileExists(atPath: dir.at(".dst.runner-staging")))

        let again = try await RunnerProcess.run(["run", dir.at("p.lua"), "--once"], logDirectory: dir.path)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(TreeSnapshot(dir.at("dst")) == TreeSnapshot(dir.at("src")))
    }

    /// The rollback of an interrupted batch is safe to run however far the tree moved on:
    /// here it was emptied by hand, directories the batch created included.
    @Test func aRollbackIntoATreeEmptiedByHandStillCompletes() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for i in 0..<10 { try dir.write("src/d\(i)/f.conf", "v1 \(i)\n") }
        try dir.write("p.lua", "pipeline \"c\" { source = \"src\", to = \"file://\(dir.at("dst"))\", delete = true }\n")
        let crashed = try await RunnerProcess.run(
            ["run", dir.at("p.lua"), "--once"],
            environment: ["RUNNER_DEBUG_CRASH_AFTER_RENAMES": "5"], logDirectory: dir.path)
        #expect(crashed.status == SIGKILL, "the hook kills the process mid-commit")
        try FileManager.default.removeItem(atPath: dir.at("dst"))
        try FileManager.default.createDirectory(atPath: dir.at("dst"), withIntermediateDirectories: true)
        let again = try await RunnerProcess.run(["run", dir.at("p.lua"), "--once"], logDirectory: dir.path)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(TreeSnapshot(dir.at("dst")) == TreeSnapshot(dir.at("src")))
        #expect(!FileManager.default.fileExists(atPath: dir.at(".dst.runner-staging")))
    }
}

/// SIGHUP reloads the pipeline script; a broken script is refused and the running one goes on.
@Suite struct ReloadTests {
    @Test func sighupAppliesANewScriptAndKeepsTheOldOneWhenTheNewIsBroken() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
        func script(ignoring pattern: String) -> String {
            "pipeline \"r\" { source = \"src\", to = \"file://\(dir.at("dst"))\", ignore = { \"\(pattern)\" }, delay = 0.05, delete = true }\n"
        }
        try dir.write("p.lua", script(ignoring: "*.a"))
        let runner = try RunnerProcess(["run", dir.at("p.lua")], logDirectory: dir.path)
        #expect(await runner.waitForLog("ready"))
        func synced(_ name: String) -> Bool { FileManager.default.fileExists(atPath: dir.at("dst/\(name)")) }

        try dir.write("p.lua", script(ignoring: "*.b"))
        runner.signal(SIGHUP)
        #expect(await runner.waitForLog("reloaded"), "\(runner.stderr)")
        try dir.write("src/x.a", "now synced")
        try dir.write("src/x.b", "now ignored")
        try dir.write("src/marker", "")
        #expect(await eventually { synced("x.a") && synced("marker") })
        #expect(!synced("x.b"))

        try dir.write("p.lua", "pipeline \"r\" {\n  source = \n")
        runner.signal(SIGHUP)
        #expect(await runner.waitForLog("reload failed"), "\(runner.stderr)")
        #expect(runner.stderr.contains("p.lua:3:"), "the error names file and line: \(runner.stderr)")
        try dir.write("src/y.a", "still synced by the running script")
        #expect(await eventually { synced("y.a") })
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit() == 0)
    }
}

extension RunEndToEndTests {
    @Test func aSecondSenderOfThePipelineExitsNamingThePIDThatHoldsIt() async throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        try f.dir.write("src/www.conf", "[www]\n")
        let first = try RunnerProcess(["run", f.script], logDirectory: f.dir.path)
        #expect(await first.waitForLog("ready"), "\(first.stderr)")
        let second = try await RunnerProcess.run(["run", f.script], logDirectory: f.dir.path)
        let pid = first.process.processIdentifier
        #expect(second.status == 1, "\(second)")
        #expect(second.stderr.contains("pipeline 't' is already running: PID \(pid) holds"), "\(second.stderr)")
        // --dry-run writes no state: it runs beside the service.
        let dry = try await RunnerProcess.run(["run", "--dry-run", "--once", f.script], logDirectory: f.dir.path)
        #expect(dry.status == 0, "\(dry)")
        first.signal(SIGTERM)
        #expect(await first.waitForExit() == 0)
        // Once the first is gone, the lock is free.
        let after = try await RunnerProcess.run(["run", "--once", f.script], logDirectory: f.dir.path)
        #expect(after.status == 0, "\(after)")
    }
}
