import Foundation
import TestSupport
import Testing

/// Going back, against real php-fpm hosts: a good pool change, a bad one held at the canary,
/// then `runner rollback` to the revision before the good one puts the old pool on every
/// host with one reload each, and `runner log` tells the whole story.
@Suite(.serialized) struct RollbackTests {
    static let pool = """
        [www]
        listen = 127.0.0.1:{{ PORT }}
        pm = static
        pm.max_children = 2
        ping.path = /ping
        clear_env = yes
        env[APP_MODE] = VALUE

        """

    @Test func aRollbackPutsTheOldPoolOnEveryHostWithOneReloadEach() async throws {
        let dir = try TemporaryDirectory()
        let php = [try TestPhpFpm(directory: dir.at("h1")), try TestPhpFpm(directory: dir.at("h2"))]
        defer {
            for p in php { p.stop() }
            dir.remove()
        }
        var receiver = "local phpfpm = require \"phpfpm\"\nsettings { listen = \"127.0.0.1:0\" }\n"
        for (i, p) in php.enumerated() {
            receiver += "module \"h\(i + 1)\" { path = \"\(p.pools)\", on_sync = { \(p.reloadAction()) } }\n"
        }
        try dir.write("receiver.lua", receiver)
        let daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path)
        defer { Task { _ = await daemon.stop() } }
        func uri(_ i: Int) -> String { "runner://127.0.0.1:\(daemon.port)/h\(i + 1)" }
        try dir.write("src/www.conf", Self.pool.replacingOccurrences(of: "VALUE", with: "initial"))
        try dir.write(
            "p.lua",
            """
            settings { state_dir = "state" }
            group "web" { "\(uri(0))", "\(uri(1))" }
            host "\(uri(0))" { vars = { PORT = \(php[0].port) } }
            host "\(uri(1))" { vars = { PORT = \(php[1].port) } }
            pipeline "fpm" { source = "src", to = { "web" }, render = { "*.conf" }, rollout = "canary", delete = true,
                             delay = 0.05, timeout = 5, guard = { max_deleted = "50%" } }
            """)
        let runner = try RunnerProcess(["run", dir.at("p.lua")], logDirectory: dir.path)
        defer { runner.signal(SIGKILL) }
        func serving(_ mode: String) -> Bool { php.allSatisfy { $0.request($0.envScript) == mode } }
        #expect(await runner.waitForLog("ready"), "\(runner.stderr)")
        #expect(await eventually(timeout: 20) { serving("initial") }, "\(runner.stderr)")

        try dir.write("src/www.conf", Self.pool.replacingOccurrences(of: "VALUE", with: "good"))
        #expect(await eventually(timeout: 20) { serving("good") }, "\(runner.stderr)")
        try dir.write("src/www.conf", Self.pool.replacingOccurrences(of: "VALUE", with: "bad\nenv[BROKEN = x"))
        #expect(await runner.waitForLog("group web: revision 3 held: canary \(uri(0)) rolled back"), "\(runner.stderr)")
        #expect(serving("good"))
        let reloads = php.map(\.reloads)

        let dry = try await RunnerProcess.run(
            ["rollback", dir.at("p.lua"), "--group", "web", "--to", "1", "--dry-run"], logDirectory: dir.path)
        #expect(dry.status == 0 && dry.stdout.contains("-env[APP_MODE] = good\n+env[APP_MODE] = initial"), "\(dry)")
        #expect(serving("good"), "a dry run changed something")
        let back = try await RunnerProcess.run(
            ["rollback", dir.at("p.lua"), "--group", "web", "--to", "1"], logDirectory: dir.path)
        #expect(back.status == 0 && back.stdout.contains("revision 4 has revision 1's content"), "\(back)")
        #expect(await eventually(timeout: 20) { serving("initial") }, "\(runner.stderr)")
        #expect(await eventually(timeout: 10) { php.map(\.reloads) == reloads.map { $0 + 1 } }, "one reload per host")
        for p in php {
            let served = try String(contentsOfFile: p.pools + "/www.conf", encoding: .utf8)
            #expect(
                served
                    == Self.pool.replacingOccurrences(of: "VALUE", with: "initial").replacingOccurrences(
                        of: "{{ PORT }}", with: "\(p.port)"))
        }

        let log = try await RunnerProcess.run(["log", dir.at("p.lua")], logDirectory: dir.path)
        let text = log.stdout
        #expect(text.contains("revision 4 ") && text.contains("(rollback to 1)"), "\(text)")
        #expect(text.contains("web: approved (rollback by root (uid 0)), 2 of 2 host(s) at it"), "\(text)")
        #expect(text.contains("web: held: canary \(uri(0)) rolled back"), "\(text)")
        #expect(text.contains("revision 2 ") && text.contains("revision 1 "), "\(text)")
        let json = try await RunnerProcess.run(["log", dir.at("p.lua"), "--json", "-n", "2"], logDirectory: dir.path)
        #expect(json.stdout.contains("\"state\" : \"held\"") && json.stdout.contains("\"number\" : 3"), "\(json)")
    }
}
