import Foundation
import TestSupport
import Testing

/// Staged roll-outs: a canary that refuses a batch keeps it from the rest of its group
/// (never written there) while another group goes on; the fix reaches everyone; and
/// `max_failures` halts a group on exactly the failure past it.
@Suite struct CanaryTests {
    /// One daemon serving a module per host; `refusing` modules validate every batch with
    /// a command that fails when a file says "broken".
    struct Setup {
        let dir: TemporaryDirectory
        let daemon: ServeProcess

        init(modules: [String], refusing: [String]) async throws {
            dir = try TemporaryDirectory()
            var lua = "settings { listen = \"127.0.0.1:0\" }\n"
            for m in modules {
                try FileManager.default.createDirectory(atPath: dir.at("hosts/\(m)"), withIntermediateDirectories: true)
                let check =
                    refusing.contains(m)
                    ? "on_sync = { { kind = \"exec\", argv = { \"sh\", \"-c\", \"! grep -rqs broken \\\"$RUNNER_MODULE_PATH\\\"\" }, validate = true } },"
                    : ""
                lua += "module \"\(m)\" { path = \"hosts/\(m)\", \(check) }\n"
            }
            try dir.write("receiver.lua", lua)
            try dir.write("src/www.conf", "[www]\nenv[APP_MODE] = one\n")
            daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path)
        }

        func uri(_ m: String) -> String { "\"runner://127.0.0.1:\(daemon.port)/\(m)\"" }

        func content(_ m: String) -> String? {
            try? String(contentsOfFile: dir.at("hosts/\(m)/www.conf"), encoding: .utf8)
        }

        func source() -> String? { try? String(contentsOfFile: dir.at("src/www.conf"), encoding: .utf8) }
    }

    @Test func aRefusedBatchNeverReachesTheRestOfItsGroupAndTheFixReachesEveryone() async throws {
        let s = try await Setup(modules: ["f1", "f2", "f3", "r1", "r2"], refusing: ["f1", "f2", "f3"])
        defer { s.dir.remove() }
        try s.dir.write(
            "p.lua",
            """
            settings { state_dir = "state" }
            group "functional" { \(s.uri("f1")), \(s.uri("f2")), \(s.uri("f3")) }
            group "regression" { \(s.uri("r1")), \(s.uri("r2")) }
            pipeline "p" { source = "src", to = { "functional", "regression" }, rollout = "canary", delay = 0.05,
                           retry = { initial = 0.2, max = 1 } }
            """)
        let runner = try RunnerProcess(["run", s.dir.at("p.lua")], logDirectory: s.dir.path)
        #expect(await runner.waitForLog("ready"))
        let everyone = ["f1", "f2", "f3", "r1", "r2"]
        #expect(
            await eventually(timeout: 20) { everyone.allSatisfy { s.content($0) == s.source() } }, "\(runner.stderr)")
        let before = ["f2", "f3"].map {
            (try? FileManager.default.attributesOfItem(atPath: s.dir.at("hosts/\($0)/www.conf"))[.modificationDate])
                as? Date
        }

        try s.dir.write("src/www.conf", "[www]\nenv[APP_MODE] = broken\n")
        #expect(
            await runner.waitForLog(
                "group functional: revision 2 held: canary runner://127.0.0.1:\(s.daemon.port)/f1 rolled back: exec"),
            "\(runner.stderr)")
        // The other group goes on; the canary rolled itself back; the rest never saw it.
        #expect(
            await eventually(timeout: 20) { s.content("r1") == s.source() && s.content("r2") == s.source() },
            "\(runner.stderr)")
        #expect(s.content("f1") == "[www]\nenv[APP_MODE] = one\n")
        for (i, m) in ["f2", "f3"].enumerated() {
            #expect(s.content(m) == "[www]\nenv[APP_MODE] = one\n")
            let now =
                (try? FileManager.default.attributesOfItem(atPath: s.dir.at("hosts/\(m)/www.conf"))[.modificationDate])
                as? Date
            #expect(now == before[i], "\(m) was written")
            let sessions = s.daemon.process.stderr.split(separator: "\n").filter {
                $0.contains("module=\(m)") && $0.contains("batch")
            }
            #expect(sessions.count == 1, "\(m) got more than the initial batch: \(sessions)")
        }

        try s.dir.write("src/www.conf", "[www]\nenv[APP_MODE] = two\n")
        #expect(
            await eventually(timeout: 20) { everyone.allSatisfy { s.content($0) == s.source() } }, "\(runner.stderr)")
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit(timeout: 30) == 0)
        _ = await s.daemon.stop()
    }

    @Test func maxFailuresOfOneHaltsOnTheSecondFailureExactly() async throws {
        let s = try await Setup(modules: ["m1", "m2", "m3", "m4"], refusing: ["m2", "m3"])
        defer { s.dir.remove() }
        try s.dir.write(
            "p.lua",
            """
            settings { state_dir = "state" }
            group "g" { \(s.uri("m1")), \(s.uri("m2")), \(s.uri("m3")), \(s.uri("m4")) }
            pipeline "p" { source = "src", to = "g", rollout = { canary = 0, max_failures = 1 }, max_parallel = 1, delay = 0.05 }
            """)
        let runner = try RunnerProcess(["run", s.dir.at("p.lua")], logDirectory: s.dir.path)
        #expect(await runner.waitForLog("ready"))
        #expect(
            await eventually(timeout: 20) { ["m1", "m2", "m3", "m4"].allSatisfy { s.content($0) == s.source() } },
            "\(runner.stderr)")
        try s.dir.write("src/www.conf", "[www]\nenv[APP_MODE] = broken\n")
        #expect(
            await runner.waitForLog("group g: revision 2 halted after 2 failures (max_failures = 1)"),
            "\(runner.stderr)")
        #expect(s.content("m1") == s.source())
        for m in ["m2", "m3", "m4"] { #expect(s.content(m) == "[www]\nenv[APP_MODE] = one\n", "\(m)") }
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit(timeout: 30) == 0)
        _ = await s.daemon.stop()
    }
}
