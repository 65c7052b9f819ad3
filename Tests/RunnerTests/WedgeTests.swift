import Foundation
import Pipeline
import TestSupport
import Testing

/// The two ways a group once stopped receiving changes for good, tried as a user would: two
/// groups with canaries, a validating action on every receiver, `timeout = 3`, real daemons.
@Suite struct WedgeTests {
    struct Setup {
        let dir: TemporaryDirectory
        let daemon: ServeProcess

        init(modules: [String]) async throws {
            dir = try TemporaryDirectory()
            var lua = "settings { listen = \"127.0.0.1:0\" }\n"
            for m in modules {
                try FileManager.default.createDirectory(atPath: dir.at("hosts/\(m)"), withIntermediateDirectories: true)
                lua +=
                    "module \"\(m)\" { path = \"hosts/\(m)\", on_sync = { { kind = \"exec\", argv = { \"true\" }, validate = true } } }\n"
            }
            try dir.write("receiver.lua", lua)
            try dir.write("src/www.conf", "[www]\n")
            daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path)
        }

        func uri(_ m: String) -> String { "\"runner://127.0.0.1:\(daemon.port)/\(m)\"" }

        func content(_ m: String, _ file: String) -> String? {
            try? String(contentsOfFile: dir.at("hosts/\(m)/\(file)"), encoding: .utf8)
        }
    }

    @Test func aHungHostInACanaryGroupHoldsBackNoOtherHost() async throws {
        let s = try await Setup(modules: ["f1", "f2", "r1", "r2"])
        defer { s.dir.remove() }
        let hung = try SilentListener()
        // The hung host comes first: it is the functional group's canary until its first timeout.
        try s.dir.write(
            "p.lua",
            """
            settings { state_dir = "state", status = "127.0.0.1:0" }
            group "functional" { "runner://127.0.0.1:\(hung.port)/f0", \(s.uri("f1")), \(s.uri("f2")) }
            group "regression" { \(s.uri("r1")), \(s.uri("r2")) }
            pipeline "p" { source = "src", to = { "functional", "regression" }, rollout = "canary", timeout = 3,
                           delay = 0.05 }
            """)
        let runner = try RunnerProcess(["run", s.dir.at("p.lua"), "--log-level", "debug"], logDirectory: s.dir.path)
        let port = try #require(await ServiceTests.statusPort(runner), "\(runner.stderr)")
        #expect(await runner.waitForLog("ready"))
        let healthy = ["f1", "f2", "r1", "r2"]
        #expect(
            await eventually(timeout: 20) { healthy.allSatisfy { s.content($0, "www.conf") == "[www]\n" } },
            "\(runner.stderr)")
        for i in 1...10 {
            let text = "[www]\nedit = \(i)\n"
            let started = Date()
            try s.dir.write("src/www.conf", text)
            let arrived = await eventually(timeout: 10) { healthy.allSatisfy { s.content($0, "www.conf") == text } }
            let seconds = Date().timeIntervalSince(started)
            #expect(arrived && seconds < 2, "edit \(i) took \(seconds) s: \(runner.stderr.suffix(3000))")
        }
        #expect(hung.connections >= 1)
        // Current means at the group's approved revision: the healthy hosts are (once their
        // answers are in), the hung one is not.
        var functional: ServiceStatus.Group?
        #expect(
            await eventually {
                let status = try? ServiceStatus.decode(Array(try httpGet(port: port, "/status").body.utf8))
                functional = status?.pipelines.first?.groups.first { $0.name == "functional" }
                return functional?.approved == status?.pipelines.first?.revision
                    && functional?.hosts.dropFirst().allSatisfy { $0.state == "current" } == true
            }, "\(String(describing: functional))")
        #expect(functional?.hosts.first?.state != "current")
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit(timeout: 30) == 0)
        #expect(runner.stderr.contains("stopped with 1 host(s) not up to date"), "\(runner.stderr.suffix(2000))")
        _ = await s.daemon.stop()
    }

    @Test func aTemplateRefusedAtRenderThenRemovedLetsTheGroupGoOn() async throws {
        let s = try await Setup(modules: ["f1", "f2", "r1", "r2"])
        defer { s.dir.remove() }
        try s.dir.write(
            "p.lua",
            """
            settings { state_dir = "state" }
            group "functional" { \(s.uri("f1")), \(s.uri("f2")), vars = { MODE = "functional" } }
            group "regression" { \(s.uri("r1")), \(s.uri("r2")), vars = { MODE = "regression" } }
            pipeline "p" { source = "src", to = { "functional", "regression" }, rollout = "canary", timeout = 3,
                           delay = 0.05, render = { "*.conf" }, delete = true }
            """)
        let runner = try RunnerProcess(["run", s.dir.at("p.lua")], logDirectory: s.dir.path)
        #expect(await runner.waitForLog("ready"))
        let all = ["f1", "f2", "r1", "r2"]
        #expect(await eventually(timeout: 20) { all.allSatisfy { s.content($0, "www.conf") == "[www]\n" } })

        try s.dir.write("src/bad.conf", "[bad]\nmode = {{ NOPE }}\n")
        #expect(await runner.waitForLog("group functional: revision 2 held: canary"), "\(runner.stderr)")
        #expect(await runner.waitForLog("group regression: revision 2 held: canary"), "\(runner.stderr)")
        #expect(runner.stderr.contains("undefined variable 'NOPE'"))
        #expect(all.allSatisfy { s.content($0, "bad.conf") == nil })

        // The template removed, another file edited: the edit reaches every host of both groups.
        try FileManager.default.removeItem(atPath: s.dir.at("src/bad.conf"))
        try s.dir.write("src/www.conf", "[www]\nmode = {{ MODE }}\n")
        #expect(
            await eventually(timeout: 10) {
                ["f1", "f2"].allSatisfy { s.content($0, "www.conf") == "[www]\nmode = functional\n" }
                    && ["r1", "r2"].allSatisfy { s.content($0, "www.conf") == "[www]\nmode = regression\n" }
            }, "\(runner.stderr)")
        #expect(all.allSatisfy { s.content($0, "bad.conf") == nil })
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit(timeout: 30) == 0)
        #expect(runner.stderr.contains("stopped with every host up to date"), "\(runner.stderr.suffix(2000))")
        _ = await s.daemon.stop()
    }
}
