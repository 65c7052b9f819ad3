import Foundation
import Pipeline
import TestSupport
import Testing

/// Every host on its own: one that is hung, frozen or down never holds back another, and
/// a host that was away catches up in one batch. Real `runner serve` daemons on 127.0.0.1.
@Suite struct FleetTests {
    struct Setup {
        let dir: TemporaryDirectory
        var source: String { dir.at("src") }

        init(receivers: [String]) throws {
            dir = try TemporaryDirectory()
            try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
            for (i, listen) in receivers.enumerated() {
                try FileManager.default.createDirectory(atPath: dir.at("module\(i)"), withIntermediateDirectories: true)
                try dir.write(
                    "receiver\(i).lua",
                    "settings { listen = \"\(listen)\" }\nmodule \"fpm\" { path = \"module\(i)\" }\n")
            }
        }

        func module(_ i: Int) -> String { dir.at("module\(i)") }

        /// A live `runner run` to these targets, ready.
        func run(_ targets: [String], extra: String = "") async throws -> RunnerProcess {
            let to = targets.map { "\"\($0)\"" }.joined(separator: ", ")
            try dir.write(
                "p.lua", "pipeline \"p\" { source = \"src\", to = { \(to) }, delete = true, delay = 0.05, \(extra) }\n")
            let runner = try RunnerProcess(["run", dir.at("p.lua")], logDirectory: dir.path)
            #expect(await runner.waitForLog("ready"), "\(runner.stderr)")
            return runner
        }

        func serve(_ i: Int) async throws -> ServeProcess {
            try await ServeProcess(script: dir.at("receiver\(i).lua"), logDirectory: dir.path)
        }

        /// Whether module `i` holds exactly the source.
        func converged(_ i: Int) -> Bool { TreeSnapshot(source) == TreeSnapshot(module(i)) }
    }

    /// Signals a daemon and the sessions it forked.
    static func signalTree(_ pid: Int32, _ sig: Int32) {
        _ = try? sh("pkill -\(sig) -P \(pid) || true", in: "/")
        kill(pid, sig)
    }

    @Test func aHungHostHoldsBackNobody() async throws {
        let s = try Setup(receivers: ["127.0.0.1:0"])
        defer { s.dir.remove() }
        try s.dir.write("src/www.conf", "[www]\n")
        let hung = try SilentListener()
        let daemon = try await s.serve(0)
        // Its timeout is long: had the hung host held the other back, nothing would arrive in time.
        let runner = try await s.run(
            ["runner://127.0.0.1:\(hung.port)/fpm", "runner://127.0.0.1:\(daemon.port)/fpm"],
            extra: "timeout = 60")
        #expect(await eventually(timeout: 10) { s.converged(0) }, "\(runner.stderr)")
        for i in 0..<3 {
            try s.dir.write("src/change\(i).conf", "\(i)\n")
            #expect(await eventually(timeout: 10) { s.converged(0) }, "change \(i): \(runner.stderr)")
        }
        #expect(hung.connections >= 1)
        runner.signal(SIGKILL)
        _ = await daemon.stop()
    }

    @Test func aFrozenReceiverHoldsBackNobodyAndCatchesUpWhenThawed() async throws {
        let s = try Setup(receivers: ["127.0.0.1:0", "127.0.0.1:0"])
        defer { s.dir.remove() }
        try s.dir.write("src/www.conf", "[www]\n")
        let healthy = try await s.serve(0), frozen = try await s.serve(1)
        let runner = try await s.run(
            ["runner://127.0.0.1:\(frozen.port)/fpm", "runner://127.0.0.1:\(healthy.port)/fpm"],
            extra: "timeout = 60, retry = { initial = 0.2, max = 1 }")
        #expect(await eventually(timeout: 10) { s.converged(0) && s.converged(1) }, "\(runner.stderr)")
        Self.signalTree(frozen.process.process.processIdentifier, SIGSTOP)
        for i in 0..<3 {
            try s.dir.write("src/change\(i).conf", String(repeating: "x", count: 100_000 * (i + 1)))
            #expect(await eventually(timeout: 10) { s.converged(0) }, "change \(i): \(runner.stderr)")
        }
        #expect(!s.converged(1))
        Self.signalTree(frozen.process.process.processIdentifier, SIGCONT)
        #expect(await eventually(timeout: 30) { s.converged(1) }, "\(runner.stderr)")
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit(timeout: 30) == 0)
        _ = await healthy.stop()
        _ = await frozen.stop()
    }

    @Test func aHostDownAcrossThreeBatchesGetsOneResyncBatch() async throws {
        let port = try freeLoopbackPort()
        let s = try Setup(receivers: ["127.0.0.1:0", "127.0.0.1:\(port)"])
        defer { s.dir.remove() }
        try s.dir.write("src/www.conf", "[www]\n")
        // Old enough for the quick check to trust it: the resync then writes only what changed.
        var old = [timespec(tv_sec: 1_600_000_000, tv_nsec: 0), timespec(tv_sec: 1_600_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, s.dir.at("src/www.conf"), &old, 0) == 0)
        let up = try await s.serve(0)
        var away = try await s.serve(1)
        let runner = try await s.run(
            ["runner://127.0.0.1:\(port)/fpm", "runner://127.0.0.1:\(up.port)/fpm"],
            extra: "retry = { initial = 0.2, max = 0.5 }")
        #expect(await eventually(timeout: 10) { s.converged(0) && s.converged(1) }, "\(runner.stderr)")
        _ = await away.stop()
        for i in 0..<3 {
            try s.dir.write("src/change\(i).conf", "\(i)\n")
            #expect(await eventually(timeout: 10) { s.converged(0) }, "\(runner.stderr)")
        }
        away = try await s.serve(1)
        #expect(await eventually(timeout: 20) { s.converged(1) }, "\(runner.stderr)")
        // One batch brought it the three files; going down and coming back were said once each.
        #expect(await away.process.waitForLog("applied"))
        #expect(await runner.waitForLog("is back"))
        let applied = away.process.stderr.split(separator: "\n").filter { $0.contains("applied") }
        #expect(
            applied.count == 1 && applied.first?.contains("written=3") == true,
            "\(away.process.stderr)\n\(runner.stderr)")
        #expect(runner.stderr.components(separatedBy: "is down").count - 1 == 1, "\(runner.stderr)")
        #expect(runner.stderr.components(separatedBy: "is back").count - 1 == 1, "\(runner.stderr)")
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit(timeout: 30) == 0)
        _ = await up.stop()
        _ = await away.stop()
    }

    @Test func aRestartRemembersTheRevisionsAndSendsNothingTwice() async throws {
        let s = try Setup(receivers: ["127.0.0.1:0"])
        defer { s.dir.remove() }
        try s.dir.write("src/www.conf", "[www]\n")
        let daemon = try await s.serve(0)
        let uri = "runner://127.0.0.1:\(daemon.port)/fpm"
        var runner = try await s.run([uri])
        for i in 2...3 {
            try s.dir.write("src/change\(i).conf", "\(i)\n")
            #expect(await runner.waitForLog("revision \(i): applied"), "\(runner.stderr)")
        }
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit(timeout: 30) == 0)
        let saved = try Data(contentsOf: URL(fileURLWithPath: s.dir.path + "/state/runner/p/rollout.json"))
        let state = try JSONDecoder().decode(RolloutState.self, from: saved)
        #expect(state.head == 3 && state.hosts[uri]?.applied == 3, "\(String(decoding: saved, as: UTF8.self))")

        // The host has revision 3: the start sends it nothing; the next change goes as revision 4.
        func committed() -> Int {
            daemon.process.stderr.split(separator: "\n").count {
                $0.range(of: #"batch \d+ applied"#, options: .regularExpression) != nil
            }
        }
        let batches = committed()
        runner = try await s.run([uri])
        try s.dir.write("src/change4.conf", "4\n")
        #expect(await runner.waitForLog("revision 4: applied"), "\(runner.stderr)")
        #expect(!runner.stderr.contains("resync"), "\(runner.stderr)")
        #expect(committed() == batches + 1, "\(daemon.process.stderr)")
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit(timeout: 30) == 0)
        _ = await daemon.stop()
    }
}
