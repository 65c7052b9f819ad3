import Foundation
import RunnerSystem
import TestSupport
import Testing

/// `runner diff` shows a revision as a group's hosts get it (rendered with its values), and a
/// file matching `secret` never shows its content: not in `diff`, `log`, `--dry-run`, the
/// sender's log or the webhook.
@Suite struct SecretTests {
    @Test func aSecretNeverShowsAndADiffIsRenderedForItsGroup() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let port = try freeLoopbackPort()
        let hook = try NotifyTests.Hook(dir: dir, port: port)
        #expect(await eventually(timeout: 10) { NotifyTests.Hook.listening(port) })
        try dir.write("src/www.conf", "[www]\nenv[APP_MODE] = {{ MODE }}\n")
        try dir.write("src/app.env", "PASSWORD=hunter2-first\n")
        try dir.write(
            "p.lua",
            """
            settings { state_dir = "state" }
            group "functional" { "file://\(dir.at("f1"))", vars = { MODE = "functional" } }
            group "regression" { "file://\(dir.at("r1"))", vars = { MODE = "regression" }, approve = true }
            pipeline "p" { source = "src", to = { "functional", "regression" }, render = { "*.conf" }, delay = 0.05,
                           secret = { "*.env" }, notify = { webhook = "http://127.0.0.1:\(port)/hook" } }
            """)
        let runner = try RunnerProcess(["run", dir.at("p.lua"), "--log-level", "debug"], logDirectory: dir.path)
        defer { runner.signal(SIGKILL) }
        #expect(await runner.waitForLog("group regression: revision 1 waits for approval"), "\(runner.stderr)")
        let approved = try await RunnerProcess.run(
            ["approve", dir.at("p.lua"), "--group", "regression"], logDirectory: dir.path)
        #expect(approved.status == 0)
        #expect(
            await eventually(timeout: 10) {
                (try? String(contentsOfFile: dir.at("r1/app.env"), encoding: .utf8)) == "PASSWORD=hunter2-first\n"
            }, "\(runner.stderr)")

        try dir.write("src/app.env", "PASSWORD=hunter3-second\n")
        try dir.write("src/www.conf", "[www]\nenv[APP_MODE] = {{ MODE }}\nenv[NEW] = 1\n")
        #expect(await runner.waitForLog("group regression: revision 2 waits for approval"), "\(runner.stderr)")
        let diff = try await RunnerProcess.run(
            ["diff", dir.at("p.lua"), "--group", "regression"], logDirectory: dir.path)
        #expect(diff.status == 0, "\(diff)")
        #expect(diff.stdout.contains("group regression: revision 1..2"), "\(diff.stdout)")
        #expect(diff.stdout.contains(" env[APP_MODE] = regression\n+env[NEW] = 1"), "\(diff.stdout)")
        #expect(diff.stdout.contains("+++ b/app.env\n(secret: 8 bytes changed)"), "\(diff.stdout)")
        let log = try await RunnerProcess.run(["log", dir.at("p.lua"), "--json"], logDirectory: dir.path)
        #expect(log.stdout.contains("app.env"))
        let dry = try await RunnerProcess.run(
            ["run", dir.at("p.lua"), "--once", "--dry-run"], logDirectory: dir.path)
        #expect(dry.stdout.contains("app.env: send (24 bytes)"), "\(dry.stdout)")
        #expect(await eventually(timeout: 10) { hook.posts.count >= 2 }, "\(runner.stderr)")

        let everything =
            [runner.stderr, runner.stdout, diff.stdout, diff.stderr, log.stdout, dry.stdout, dry.stderr]
            .joined() + ((try? String(contentsOfFile: hook.bodies, encoding: .utf8)) ?? "")
        #expect(!everything.contains("hunter"), "a secret was shown")
        await hook.stop()
    }

    /// At rest and on the wire's far side: a secret arrives with its owner and mode (PHP's
    /// group may read it, no one else), and neither end's log says its content at any level.
    @Test func aSecretArrivesWithItsOwnerAndModeAndNeitherEndLogsIt() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/app.env", "PASSWORD=hunter2-at-rest\n", mode: 0o640)
        #expect(chown(dir.at("src/app.env"), 0, 33) == 0)
        try dir.write(
            "receiver.lua",
            "settings { listen = \"127.0.0.1:0\", log = \"trace\" }\nmodule \"m\" { path = \"\(dir.at("m"))\" }\n")
        try FileManager.default.createDirectory(atPath: dir.at("m"), withIntermediateDirectories: true)
        let daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path)
        defer { Task { _ = await daemon.stop() } }
        try dir.write(
            "p.lua",
            "pipeline \"p\" { source = \"src\", to = \"runner://127.0.0.1:\(daemon.port)/m\", secret = { \"*.env\" } }\n"
        )
        let run = try await RunnerProcess.run(
            ["run", dir.at("p.lua"), "--once", "--log-level", "trace"], logDirectory: dir.path)
        #expect(run.status == 0, "\(run.stderr)")
        let info = try #require(FileInfo.lstat(dir.at("m/app.env")))
        #expect(info.uid == 0 && info.gid == 33 && info.mode == 0o640)
        #expect(!(run.stderr + run.stdout + daemon.process.stderr).contains("hunter"), "a secret was logged")
    }
}
