import Foundation
import TestSupport
import Testing

/// Operators at a running sender: a group that waits for `runner approve`, a second approval
/// that changes nothing, a peer of another uid refused at the control socket, a mass delete
/// held by the guard until approved, and `runner log` saying who let what go.
@Suite struct ApprovalTests {
    static func content(_ dir: TemporaryDirectory, _ path: String) -> String? {
        try? String(contentsOfFile: dir.at(path), encoding: .utf8)
    }

    @Test func aGatedGroupWaitsUntilApprovedFromAnotherProcess() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/www.conf", "[www]\nv = 1\n")
        try dir.write(
            "p.lua",
            """
            settings { state_dir = "state" }
            group "functional" { "file://\(dir.at("f1"))" }
            group "regression" { "file://\(dir.at("r1"))" }
            pipeline "p" { source = "src", to = { "functional", "regression" }, approve = { "regression" }, delay = 0.05 }
            """)
        let runner = try RunnerProcess(["run", dir.at("p.lua")], logDirectory: dir.path)
        defer { runner.signal(SIGKILL) }
        #expect(await runner.waitForLog("ready"), "\(runner.stderr)")
        #expect(await eventually(timeout: 10) { Self.content(dir, "f1/www.conf") == "[www]\nv = 1\n" })
        #expect(await runner.waitForLog("group regression: revision 1 waits for approval"), "\(runner.stderr)")
        try dir.write("src/www.conf", "[www]\nv = 2\n")
        #expect(await eventually(timeout: 10) { Self.content(dir, "f1/www.conf") == "[www]\nv = 2\n" })
        #expect(await runner.waitForLog("group regression: revision 2 waits for approval"), "\(runner.stderr)")
        #expect(Self.content(dir, "r1/www.conf") == nil, "regression got a revision nobody approved")

        let approved = try await RunnerProcess.run(
            ["approve", dir.at("p.lua"), "--group", "regression"], logDirectory: dir.path)
        #expect(approved.status == 0 && approved.stdout.contains("revision 2 approved for group regression"))
        #expect(await eventually(timeout: 10) { Self.content(dir, "r1/www.conf") == "[www]\nv = 2\n" })
        let again = try await RunnerProcess.run(
            ["approve", dir.at("p.lua"), "--group", "regression", "2"], logDirectory: dir.path)
        #expect(again.status == 0 && again.stdout.contains("nothing waits"), "\(again)")
        #expect(runner.stderr.components(separatedBy: "approved by").count == 2, "one audit line, not two")

        let log = try await RunnerProcess.run(
            ["log", dir.at("p.lua"), "--group", "regression"], logDirectory: dir.path)
        #expect(log.stdout.contains("regression: approved (approval by root (uid 0)), 1 of 1 host(s) at it"), "\(log)")
    }

    @Test func aPeerOfAnotherUidIsRefusedAtTheControlSocket() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/www.conf", "[www]\n")
        try dir.write(
            "p.lua",
            """
            settings { state_dir = "\(dir.at("state"))" }
            group "regression" { "file://\(dir.at("r1"))", approve = true }
            pipeline "p" { source = "\(dir.at("src"))", to = { "regression" }, delay = 0.05 }
            """)
        let runner = try RunnerProcess(["run", dir.at("p.lua")], logDirectory: dir.path)
        defer { runner.signal(SIGKILL) }
        #expect(await runner.waitForLog("waits for approval"), "\(runner.stderr)")
        // nobody may read the script and walk to the socket, and is still turned away by its mode.
        try sh("chmod 755 \(dir.path) && chmod 644 p.lua && chmod 711 state state/p", in: dir.path)
        let refused = try sh(
            "setpriv --reuid=nobody --regid=nogroup --clear-groups \(RunnerProcess.binary) approve p.lua --group regression || echo exit=$?",
            in: dir.path)
        #expect(refused.output.contains("exit=1") && refused.output.contains("Permission denied"), "\(refused.output)")
        // Past the mode (opened up here by hand), the sender checks the peer's uid itself.
        try sh("chmod 666 state/p/control.sock", in: dir.path)
        let checked = try sh(
            "setpriv --reuid=nobody --regid=nogroup --clear-groups \(RunnerProcess.binary) approve p.lua --group regression || echo exit=$?",
            in: dir.path)
        #expect(checked.output.contains("exit=1") && checked.output.contains("refused: uid 65534"), "\(checked.output)")
        #expect(Self.content(dir, "r1/www.conf") == nil)
        #expect(!runner.stderr.contains("approved by"))
    }

    @Test func aMassDeleteIsHeldByTheGuardUntilApproved() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try sh("mkdir -p src && for i in $(seq 1000); do echo $i > src/f$i.conf; done", in: dir.path)
        try dir.write(
            "p.lua",
            """
            settings { state_dir = "state" }
            group "web" { "file://\(dir.at("w1"))" }
            pipeline "p" { source = "src", to = { "web" }, delete = true, delay = 0.05,
                           guard = { max_deleted = "20%" } }
            """)
        let runner = try RunnerProcess(["run", dir.at("p.lua")], logDirectory: dir.path)
        defer { runner.signal(SIGKILL) }
        #expect(await eventually(timeout: 20) { Self.content(dir, "w1/f1000.conf") == "1000\n" }, "\(runner.stderr)")
        try sh("seq 1 300 | sed 's|.*|src/f&.conf|' | xargs rm", in: dir.path)
        #expect(
            await runner.waitForLog("waits for approval: 300 of 1000 paths deleted (guard max_deleted = 20%)"),
            "\(runner.stderr)")
        // A small edit after it waits too: it holds the deletions.
        try dir.write("src/f999.conf", "edited\n")
        #expect(await runner.waitForLog("revision 3 waits for approval"), "\(runner.stderr)")
        #expect(Self.content(dir, "w1/f1.conf") == "1\n" && Self.content(dir, "w1/f999.conf") == "999\n")
        let approved = try await RunnerProcess.run(
            ["approve", dir.at("p.lua"), "--group", "web"], logDirectory: dir.path)
        #expect(approved.status == 0, "\(approved)")
        // A file:// commit is not one rename: the whole of it is waited for.
        func left() -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: dir.at("w1"))) ?? []).filter {
                $0.hasSuffix(".conf")
            }
            .count
        }
        #expect(
            await eventually(timeout: 20) { left() == 700 && Self.content(dir, "w1/f999.conf") == "edited\n" },
            "\(left()) files left: \(runner.stderr)")
        #expect(Self.content(dir, "w1/f1.conf") == nil && Self.content(dir, "w1/f301.conf") == "301\n")
    }
}
