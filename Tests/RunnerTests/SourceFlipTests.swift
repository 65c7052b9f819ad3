import Foundation
import TestSupport
import Testing

/// The source itself replaced: a release flipped by its link (`current -> releases/N`, as
/// Capistrano, Deployer and ansistrano do it) and a directory swapped for another are seen,
/// the new tree watched, and the whole difference cut as one revision.
@Suite struct SourceFlipTests {
    struct Setup {
        let dir: TemporaryDirectory
        var app: String { dir.at("app") }

        init() throws {
            dir = try TemporaryDirectory()
            try dir.write("app/releases/1/www.conf", "[www]\nrelease = 1\n")
            try dir.write("app/releases/1/one.conf", "only in 1\n")
            try dir.write("app/releases/2/www.conf", "[www]\nrelease = 2\n")
            try dir.write("app/releases/2/two.conf", "only in 2\n")
            symlink("releases/1", dir.at("app/current"))
        }

        func snapshot(_ relative: String) -> TreeSnapshot { TreeSnapshot(dir.at(relative)) }

        func revisions(_ runner: RunnerProcess) -> [Substring] {
            runner.stderr.split(separator: "\n").filter { $0.contains("info revision") && $0.contains(" cut") }
        }
    }

    @Test func aReleaseFlippedByItsLinkIsWatchedAndCutAsOneRevision() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        try s.dir.write(
            "p.lua",
            "pipeline \"p\" { source = \"app/current\", to = \"file://\(s.dir.at("dst"))\", delete = true, delay = 0.05 }\n"
        )
        let runner = try RunnerProcess(["run", s.dir.at("p.lua")], logDirectory: s.dir.path)
        #expect(await runner.waitForLog("ready"))
        #expect(runner.stderr.contains("source=\(s.app)/releases/1"), "\(runner.stderr)")
        #expect(await eventually { s.snapshot("dst") == s.snapshot("app/releases/1") })

        let flip = try sh("ln -s releases/2 current.tmp && mv -T current.tmp current", in: s.app)
        #expect(flip.status == 0, "\(flip.output)")
        #expect(await eventually { s.snapshot("dst") == s.snapshot("app/releases/2") }, "\(runner.stderr)")
        #expect(runner.stderr.contains("the source \(s.app)/current now leads to \(s.app)/releases/2"))
        #expect(s.revisions(runner).count == 2 && s.revisions(runner).last?.contains("(source replaced)") == true)

        // The old release is no longer the source: its edits stay there.
        try s.dir.write("app/releases/1/www.conf", "[www]\nrelease = 1, edited\n")
        try s.dir.write("app/releases/2/marker.conf", "after the flip\n")
        #expect(await eventually { FileManager.default.fileExists(atPath: s.dir.at("dst/marker.conf")) })
        #expect(s.snapshot("dst") == s.snapshot("app/releases/2"))
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit() == 0)
    }

    @Test func aSourceDirectorySwappedForAnotherIsWatchedAgain() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        try s.dir.write("src/www.conf", "[www]\nold\n")
        try s.dir.write("new/www.conf", "[www]\nnew\n")
        try s.dir.write("new/extra.conf", "extra\n")
        try s.dir.write(
            "p.lua",
            "pipeline \"p\" { source = \"src\", to = \"file://\(s.dir.at("dst"))\", delete = true, delay = 0.05 }\n")
        let runner = try RunnerProcess(["run", s.dir.at("p.lua")], logDirectory: s.dir.path)
        #expect(await runner.waitForLog("ready"))
        #expect(await eventually { s.snapshot("dst") == s.snapshot("src") })
        #expect(try sh("mv src src.old && mv new src", in: s.dir.path).status == 0)
        #expect(await eventually { s.snapshot("dst") == s.snapshot("src") }, "\(runner.stderr)")
        try s.dir.write("src/later.conf", "later\n")
        #expect(await eventually { s.snapshot("dst") == s.snapshot("src") }, "\(runner.stderr)")
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit() == 0)
    }

    @Test func aFlipWhileARevisionIsUnderWayEndsAtTheNewRelease() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        // A receiver whose action takes a second: the flip comes while a revision is under way.
        try FileManager.default.createDirectory(atPath: s.dir.at("module"), withIntermediateDirectories: true)
        try s.dir.write(
            "receiver.lua",
            """
            settings { listen = "127.0.0.1:0" }
            module "fpm" { path = "module", on_sync = { { kind = "exec", argv = { "sleep", "1" } } } }
            """)
        let daemon = try await ServeProcess(script: s.dir.at("receiver.lua"), logDirectory: s.dir.path)
        try s.dir.write(
            "p.lua",
            """
            pipeline "p" { source = "app/current", to = "runner://127.0.0.1:\(daemon.port)/fpm", delete = true,
                           delay = 0.05 }
            """)
        let runner = try RunnerProcess(["run", s.dir.at("p.lua")], logDirectory: s.dir.path)
        #expect(await runner.waitForLog("ready"))
        #expect(await eventually { s.snapshot("module") == s.snapshot("app/releases/1") })
        try s.dir.write("app/releases/1/www.conf", "[www]\nrelease = 1, edited\n")
        #expect(await runner.waitForLog("revision 2 cut"))
        #expect(try sh("ln -s releases/2 current.tmp && mv -T current.tmp current", in: s.app).status == 0)
        #expect(await runner.waitForLog("revision 3 cut (source replaced)"), "\(runner.stderr)")
        #expect(
            await eventually(timeout: 20) { s.snapshot("module") == s.snapshot("app/releases/2") }, "\(runner.stderr)")
        #expect(await runner.waitForLog("revision 3: applied"), "\(runner.stderr)")
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit() == 0)
        _ = await daemon.stop()
    }
}
