import Foundation
import TestSupport
import Testing

/// Two senders of one script sharing a pipeline through a real etcd: the one holding the
/// leader key pushes; when it dies (`kill -9`) or freezes past its lease, the other takes
/// over from the state in etcd, sends no host what it confirmed, and the old one, resumed,
/// pushes nothing.
@Suite(.serialized) struct TwoSendersTests {
    /// A real etcd, one `runner serve` with a module per host (each validating its batches),
    /// and a source per sender (or one they share, as a replicated source is).
    struct Setup {
        let dir: TemporaryDirectory
        let etcd: TestEtcd
        let daemon: ServeProcess
        static let hosts = ["h1", "h2", "h3"]
        static let lease = 3

        /// Three etcd members, as a cluster that survives one's loss runs.
        init(members: Int = 3) async throws {
            dir = try TemporaryDirectory()
            etcd = try await TestEtcd(directory: dir.at("etcd"), members: members)
            var lua = "settings { listen = \"127.0.0.1:0\" }\n"
            for h in Self.hosts {
                try FileManager.default.createDirectory(atPath: dir.at("hosts/\(h)"), withIntermediateDirectories: true)
                // A batch with "slow" in it marks its start and takes a second to validate.
                lua += """
                    module "\(h)" { path = "hosts/\(h)",
                      on_sync = { { kind = "exec", argv = { "sh", "-c", "if grep -rqs slow \\"$RUNNER_MODULE_PATH\\"; then touch \(dir.at("started-\(h)")); sleep 1; fi; ! grep -rqs broken \\"$RUNNER_MODULE_PATH\\"" }, validate = true } } }

                    """
            }
            // Each sender's source, as a module a leader sends its source to (`peers`).
            for source in ["src-a", "src-b"] {
                try FileManager.default.createDirectory(atPath: dir.at(source), withIntermediateDirectories: true)
                lua += "module \"\(source)\" { path = \"\(source)\" }\n"
            }
            try dir.write("receiver.lua", lua)
            daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path)
        }

        /// Starts sender `name` on `source` (its own state directory, the same pipeline).
        func sender(
            _ name: String, source: String = "src", once: Bool = false, status: Int? = nil, group: String = "",
            rollout: String = "\"all\"", peers: Bool = false
        ) throws -> RunnerProcess {
            let module = "runner://127.0.0.1:\(daemon.port)"
            let peerTable =
                peers ? ", peers = { [\"sender-a\"] = \"\(module)/src-a\", [\"sender-b\"] = \"\(module)/src-b\" }" : ""
            let targets = Self.hosts.map { "\"runner://127.0.0.1:\(daemon.port)/\($0)\"" }.joined(separator: ", ")
            let endpoints = etcd.endpoints.map { "\"\($0)\"" }.joined(separator: ", ")
            try dir.write(
                "\(name).lua",
                """
                settings { state_dir = "state-\(name)", \(status.map { "status = \"127.0.0.1:\($0)\"," } ?? "")
                  coordination = { etcd = { \(endpoints) }, name = "\(name)", lease = \(Self.lease)\(peerTable) } }
                group "web" { \(targets)\(group) }
                pipeline "fpm" { source = "\(source)", to = { "web" }, delay = 0.05, retry = { initial = 0.2, max = 1 },
                                 rollout = \(rollout) }
                """)
            return try RunnerProcess(
                ["run", dir.at("\(name).lua")] + (once ? ["--once"] : []), logDirectory: dir.path)
        }

        /// `runner approve` with sender `name`'s script (from that sender's machine).
        func approve(_ name: String, _ revision: Int? = nil) async throws -> (status: Int32, output: String) {
            let r = try await RunnerProcess.run(
                ["approve", dir.at("\(name).lua"), "--group", "web"] + (revision.map { [String($0)] } ?? []),
                logDirectory: dir.path)
            return (r.status, r.stdout + r.stderr)
        }

        func source(_ name: String, _ file: String = "www.conf") -> String? {
            try? String(contentsOfFile: dir.at("\(name)/\(file)"), encoding: .utf8)
        }

        func content(_ host: String, _ file: String = "www.conf") -> String? {
            try? String(contentsOfFile: dir.at("hosts/\(host)/\(file)"), encoding: .utf8)
        }

        /// Batches host `host`'s module committed, as the receiver's log says.
        func applied(_ host: String) -> Int {
            daemon.process.stderr.split(separator: "\n").count {
                $0.contains("module=\(host)") && $0.range(of: #"batch \d+ applied"#, options: .regularExpression) != nil
            }
        }

        /// Whether etcd holds that `host` confirmed `revision` (what the leader knows when it dies).
        func confirmed(_ host: String, _ revision: Int) -> Bool {
            let key = "/runner/fpm/hosts/runner://127.0.0.1:\(daemon.port)/\(host)"
            let got = try? sh("etcdctl --endpoints=\(etcd.endpoints[0]) get --print-value-only '\(key)'", in: dir.path)
            let value = got?.output ?? ""
            return value.contains("\"applied\":\(revision),") || value.contains("\"applied\":\(revision)}")
        }

        func everyHost(has text: String, _ file: String = "www.conf") async -> Bool {
            await eventually(timeout: 20) { Self.hosts.allSatisfy { content($0, file) == text } }
        }

        func stop() async {
            _ = await daemon.stop()
            etcd.stop()
            dir.remove()
        }
    }

    @Test func aKilledLeaderIsTakenOverAndNoHostGetsWhatItConfirmedAgain() async throws {
        let s = try await Setup()
        try s.dir.write("src/www.conf", "[www]\nv = 1\n")
        let a = try s.sender("sender-a")
        #expect(await a.waitForLog("leading as sender-a"), "\(a.stderr)")
        #expect(await s.everyHost(has: "[www]\nv = 1\n"), "\(a.stderr)")
        let b = try s.sender("sender-b")
        #expect(await b.waitForLog("standing by: sender-a leads"), "\(b.stderr)")
        try s.dir.write("src/www.conf", "[www]\nv = 2\n")
        #expect(await s.everyHost(has: "[www]\nv = 2\n"))
        #expect(await eventually { Setup.hosts.map(s.applied) == [2, 2, 2] }, "\(s.daemon.process.stderr)")

        let killed = Date()
        a.signal(SIGKILL)
        _ = await a.waitForExit()
        #expect(await b.waitForLog("leading as sender-b"), "\(b.stderr)")
        let takeover = Date().timeIntervalSince(killed)
        #expect(takeover < Double(Setup.lease) + 2 + 1, "took over after \(takeover) s")
        // Every host confirmed what the source holds: the new leader sends nobody anything.
        #expect(await b.waitForLog("ready"))
        #expect(Setup.hosts.map(s.applied) == [2, 2, 2], "\(b.stderr)\n\(s.daemon.process.stderr)")

        // Its source is the edit point now.
        try s.dir.write("src/www.conf", "[www]\nv = 3\n")
        #expect(await s.everyHost(has: "[www]\nv = 3\n"), "\(b.stderr)")
        #expect(await eventually { Setup.hosts.map(s.applied) == [3, 3, 3] }, "\(b.stderr)")
        // Every module's fence is the new leader's term.
        let fences = Setup.hosts.map {
            try? String(contentsOfFile: s.dir.at("hosts/.\($0).runner-fence"), encoding: .utf8)
        }
        #expect(Set(fences).count == 1 && fences[0] != nil, "\(fences)")
        b.signal(SIGTERM)
        #expect(await b.waitForExit(timeout: 30) == 0)
        await s.stop()
    }

    @Test func aFrozenLeaderIsFencedOutAndResumedPushesNothing() async throws {
        let s = try await Setup()
        try s.dir.write("src-a/www.conf", "[www]\nv = a1\n")
        try s.dir.write("src-b/www.conf", "[www]\nv = a1\n")
        let a = try s.sender("sender-a", source: "src-a")
        #expect(await a.waitForLog("leading as sender-a"), "\(a.stderr)")
        #expect(await s.everyHost(has: "[www]\nv = a1\n"), "\(a.stderr)")
        let b = try s.sender("sender-b", source: "src-b")
        #expect(await b.waitForLog("standing by: sender-a leads"), "\(b.stderr)")

        a.signal(SIGSTOP)
        #expect(await b.waitForLog("leading as sender-b", timeout: Double(Setup.lease) + 10), "\(b.stderr)")
        try s.dir.write("src-b/www.conf", "[www]\nv = b2\n")
        #expect(await s.everyHost(has: "[www]\nv = b2\n"), "\(b.stderr)")
        // The frozen leader's sessions, open between its batches, are refused by every module,
        // and each says why.
        #expect(
            await eventually {
                Setup.hosts.allSatisfy { h in
                    s.daemon.process.stderr.contains("fenced: module '\(h)' has seen leader token")
                }
            }, "\(s.daemon.process.stderr)")

        // Resumed with a change of its own: its lease ran out while it was frozen, so it
        // stands down before it sends anything.
        try s.dir.write("src-a/www.conf", "[www]\nv = a2 broken-if-sent\n")
        a.signal(SIGCONT)
        #expect(await a.waitForLog("stopped pushing (term"), "\(a.stderr)")
        #expect(await a.waitForLog("standing by: sender-b leads"), "\(a.stderr)")
        try s.dir.write("src-b/www.conf", "[www]\nv = b3\n")
        #expect(await s.everyHost(has: "[www]\nv = b3\n"), "\(b.stderr)")
        #expect(!a.stderr.contains("revision 2 cut"), "\(a.stderr)")
        for p in [a, b] { p.signal(SIGTERM) }
        #expect(await a.waitForExit(timeout: 30) == 0)
        #expect(await b.waitForExit(timeout: 30) == 0)
        await s.stop()
    }

    @Test func withoutQuorumTheLeaderStopsWithinItsLeaseAndResumesByItself() async throws {
        let s = try await Setup(members: 3)
        try s.dir.write("src/www.conf", "[www]\nv = 1\n")
        let port = try freeLoopbackPort()
        let a = try s.sender("sender-a", status: port)
        #expect(await a.waitForLog("leading as sender-a"), "\(a.stderr)")
        #expect(await s.everyHost(has: "[www]\nv = 1\n"), "\(a.stderr)")
        #expect(await eventually { (try? httpGet(port: port, "/healthz").status) == 200 })
        let check = try await RunnerProcess.run(["check", s.dir.at("sender-a.lua")], logDirectory: s.dir.path)
        #expect(check.status == 0 && check.stdout.components(separatedBy: ": healthy").count == 4, "\(check)")
        let status = try await RunnerProcess.run(["status", s.dir.at("sender-a.lua")], logDirectory: s.dir.path)
        #expect(status.stdout.contains("pipeline fpm: leader sender-a (term "), "\(status)")

        let lost = Date()
        s.etcd.signal(1, SIGKILL)
        s.etcd.signal(2, SIGKILL)
        #expect(await a.waitForLog("stopped pushing (term", timeout: Double(Setup.lease) + 5), "\(a.stderr)")
        let stopped = Date().timeIntervalSince(lost)
        #expect(stopped <= Double(Setup.lease) + 0.5, "stopped \(stopped) s after quorum was lost")
        let health = try httpGet(port: port, "/healthz")
        #expect(health.status == 503 && health.body.contains("sender-a does not push: etcd"), "\(health)")
        let without = try await RunnerProcess.run(["status", s.dir.at("sender-a.lua")], logDirectory: s.dir.path)
        #expect(without.status == 1, "\(without)")
        // Two members gone, and the third without quorum says so itself.
        #expect(without.stdout.components(separatedBy: ": unhealthy").count == 4, "\(without)")
        #expect(without.stdout.contains("\"health\":\"false\""), "\(without)")
        // A change while it cannot push stays unsent.
        try s.dir.write("src/www.conf", "[www]\nv = 2\n")
        try await Task.sleep(for: .seconds(1))
        #expect(Setup.hosts.allSatisfy { s.content($0) == "[www]\nv = 1\n" })

        try s.etcd.start(1)
        try s.etcd.start(2)
        #expect(await s.everyHost(has: "[www]\nv = 2\n"), "\(a.stderr)")
        #expect(a.stderr.components(separatedBy: "leading as sender-a").count == 3, "\(a.stderr)")
        #expect(await eventually { (try? httpGet(port: port, "/healthz").status) == 200 })
        a.signal(SIGTERM)
        #expect(await a.waitForExit(timeout: 30) == 0)
        await s.stop()
    }

    @Test func twoOperatorsApproveFromEitherMachineAndOneIsToldItWasDone() async throws {
        let s = try await Setup()
        try s.dir.write("src/www.conf", "[www]\nv = 1\n")
        let a = try s.sender("sender-a", group: ", approve = true")
        #expect(await a.waitForLog("revision 1 waits for approval"), "\(a.stderr)")
        let first = try await s.approve("sender-a")
        #expect(first.status == 0 && first.output.contains("sender-a: revision 1 approved"), "\(first)")
        #expect(await s.everyHost(has: "[www]\nv = 1\n"), "\(a.stderr)")
        let b = try s.sender("sender-b", group: ", approve = true")
        #expect(await b.waitForLog("standing by: sender-a leads"), "\(b.stderr)")

        try s.dir.write("src/www.conf", "[www]\nv = 2\n")
        #expect(await a.waitForLog("revision 2 waits for approval"), "\(a.stderr)")
        async let one = s.approve("sender-a", 2)
        async let other = s.approve("sender-b", 2)
        let answers = try await [one, other]
        #expect(answers.map(\.status).sorted() == [0, 1], "\(answers)")
        let refused = try #require(answers.first { $0.status == 1 })
        #expect(
            refused.output.contains("has a command waiting for the leader: approve 2 by")
                || refused.output.contains("head moved to 2 by sender-a at"), "\(refused)")
        #expect(await s.everyHost(has: "[www]\nv = 2\n"), "\(a.stderr)")
        #expect(a.stderr.components(separatedBy: "revision 2 approved by").count == 2, "\(a.stderr)")
        // The audit is in etcd, for either machine to read.
        let audit = try sh(
            "etcdctl --endpoints=\(s.etcd.endpoints[0]) get --prefix --print-value-only /runner/fpm/audit/",
            in: s.dir.path)
        #expect(audit.output.contains("\"kind\":\"approval\"") && audit.output.contains("\"revision\":2"), "\(audit)")

        // Waiting for approval when the leader dies: the standby takes the wait over.
        try s.dir.write("src/www.conf", "[www]\nv = 3\n")
        #expect(await a.waitForLog("revision 3 waits for approval"), "\(a.stderr)")
        a.signal(SIGKILL)
        _ = await a.waitForExit()
        #expect(await b.waitForLog("leading as sender-b"), "\(b.stderr)")
        let stale = try await s.approve("sender-a", 2)
        #expect(stale.status == 1, "\(stale)")
        #expect(stale.output.contains("head moved to 4 by sender-b at"), "\(stale)")
        #expect(Setup.hosts.allSatisfy { s.content($0) == "[www]\nv = 2\n" }, "not before its approval")
        let late = try await s.approve("sender-a")
        #expect(late.status == 0 && late.output.contains("sender-b: revision 4 approved"), "\(late)")
        #expect(await s.everyHost(has: "[www]\nv = 3\n"), "\(b.stderr)")
        #expect(await eventually { Setup.hosts.map(s.applied) == [3, 3, 3] }, "\(s.daemon.process.stderr)")
        b.signal(SIGTERM)
        #expect(await b.waitForExit(timeout: 30) == 0)
        await s.stop()
    }

    @Test func killedWithTheCanaryAppliedTheRestGetItOnceAndTheCanaryNothing() async throws {
        let s = try await Setup()
        try s.dir.write("src/www.conf", "[www]\nv = 1\n")
        let rollout = "{ canary = 1, pause = 2 }"
        let a = try s.sender("sender-a", rollout: rollout)
        #expect(await s.everyHost(has: "[www]\nv = 1\n"), "\(a.stderr)")
        let b = try s.sender("sender-b", rollout: rollout)
        #expect(await b.waitForLog("standing by: sender-a leads"), "\(b.stderr)")
        try s.dir.write("src/www.conf", "[www]\nv = 2\n")
        // The canary has it; the rest wait out the pause.
        #expect(
            await eventually { Setup.hosts.count { s.content($0) == "[www]\nv = 2\n" } == 1 }, "\(a.stderr)")
        let canary = try #require(Setup.hosts.first { s.content($0) == "[www]\nv = 2\n" })
        // Killed once the canary's answer is in etcd: a host it had not heard from yet would
        // rightly be compared (and log "unchanged").
        #expect(await eventually { s.confirmed(canary, 2) }, "\(a.stderr)")
        a.signal(SIGKILL)
        _ = await a.waitForExit()
        #expect(Setup.hosts.count { s.content($0) == "[www]\nv = 2\n" } == 1, "killed within the pause")
        #expect(await b.waitForLog("leading as sender-b"), "\(b.stderr)")
        #expect(await s.everyHost(has: "[www]\nv = 2\n"), "\(b.stderr)")
        // Each host applied each revision once; the canary got nothing again.
        #expect(await eventually { Setup.hosts.map(s.applied) == [2, 2, 2] }, "\(s.daemon.process.stderr)")
        #expect(!s.daemon.process.stderr.contains("module=\(canary) peer=127.0.0.1 written=0"))
        b.signal(SIGTERM)
        #expect(await b.waitForExit(timeout: 30) == 0)
        await s.stop()
    }

    @Test func killedMidBatchEveryHostEndsAtTheRevisionOnce() async throws {
        let s = try await Setup()
        try s.dir.write("src/www.conf", "[www]\nv = 1\n")
        let a = try s.sender("sender-a")
        #expect(await s.everyHost(has: "[www]\nv = 1\n"), "\(a.stderr)")
        let b = try s.sender("sender-b")
        #expect(await b.waitForLog("standing by: sender-a leads"), "\(b.stderr)")
        try s.dir.write("src/www.conf", "[www]\nv = 2 slow\n")
        // Killed while the receivers validate its batch: they commit; it never hears so.
        #expect(
            await eventually {
                Setup.hosts.contains { FileManager.default.fileExists(atPath: s.dir.at("started-\($0)")) }
            })
        a.signal(SIGKILL)
        _ = await a.waitForExit()
        #expect(await b.waitForLog("leading as sender-b"), "\(b.stderr)")
        #expect(await s.everyHost(has: "[www]\nv = 2 slow\n"), "\(b.stderr)")
        // What a host committed for the dead leader is compared, not applied again.
        #expect(await eventually { Setup.hosts.map(s.applied) == [2, 2, 2] }, "\(s.daemon.process.stderr)")
        try s.dir.write("src/www.conf", "[www]\nv = 3\n")
        #expect(await s.everyHost(has: "[www]\nv = 3\n"), "\(b.stderr)")
        #expect(await eventually { Setup.hosts.map(s.applied) == [3, 3, 3] }, "\(s.daemon.process.stderr)")
        b.signal(SIGTERM)
        #expect(await b.waitForExit(timeout: 30) == 0)
        await s.stop()
    }

    @Test func theStandbyHoldsTheLeadersSourceAndTakesOverWithIt() async throws {
        let s = try await Setup()
        try s.dir.write("src-a/www.conf", "[www]\nv = 1\n")
        let a = try s.sender("sender-a", source: "src-a", peers: true)
        #expect(await s.everyHost(has: "[www]\nv = 1\n"), "\(a.stderr)")
        #expect(await eventually { s.source("src-b") == "[www]\nv = 1\n" }, "\(a.stderr)")
        let b = try s.sender("sender-b", source: "src-b", peers: true)
        #expect(await b.waitForLog("standing by: sender-a leads"), "\(b.stderr)")
        try s.dir.write("src-a/www.conf", "[www]\nv = 2\n")
        #expect(await s.everyHost(has: "[www]\nv = 2\n"), "\(a.stderr)")
        #expect(await eventually { s.source("src-b") == "[www]\nv = 2\n" }, "\(a.stderr)")
        #expect(await eventually { Setup.hosts.allSatisfy { s.confirmed($0, 2) } }, "\(a.stderr)")

        a.signal(SIGKILL)
        _ = await a.waitForExit()
        #expect(await b.waitForLog("leading as sender-b"), "\(b.stderr)")
        // Its copy of the source is what the hosts have, to the file's time: nothing is sent,
        // not even a comparison.
        try s.dir.write("src-b/other.conf", "x\n")
        #expect(await eventually { Setup.hosts.allSatisfy { s.content($0, "other.conf") == "x\n" } }, "\(b.stderr)")
        #expect(await eventually { Setup.hosts.map(s.applied) == [3, 3, 3] }, "\(s.daemon.process.stderr)")
        #expect(
            !s.daemon.process.stderr.split(separator: "\n").contains {
                $0.contains("unchanged") && $0.contains("module=h")
            }, "\(s.daemon.process.stderr)")
        // The old leader's source is the standby's now, and gets what the new leader sends.
        #expect(await eventually { s.source("src-a", "other.conf") == "x\n" }, "\(b.stderr)")
        b.signal(SIGTERM)
        #expect(await b.waitForExit(timeout: 30) == 0)
        await s.stop()
    }

    @Test func onlyWhatTheStandbyHoldsIsApproved() async throws {
        let s = try await Setup()
        try s.dir.write("src-a/www.conf", "[www]\nv = 1\n")
        let a = try s.sender("sender-a", source: "src-a", group: ", approve = true", peers: true)
        #expect(await a.waitForLog("revision 1 waits for approval"), "\(a.stderr)")
        // Approved once the leader heard the standby's source has it.
        #expect(await eventually { s.source("src-b") == "[www]\nv = 1\n" }, "\(a.stderr)")
        #expect(await a.waitForLog("revision 1: applied"), "\(a.stderr)")
        let first = try await s.approve("sender-a")
        #expect(first.status == 0, "\(first)")
        #expect(await s.everyHost(has: "[www]\nv = 1\n"), "\(a.stderr)")
        for v in 2...3 {
            try s.dir.write("src-a/www.conf", "[www]\nv = \(v)\n")
            #expect(await a.waitForLog("revision \(v) waits for approval"), "\(a.stderr)")
        }
        #expect(await eventually { s.source("src-b") == "[www]\nv = 3\n" }, "\(a.stderr)")
        #expect(await a.waitForLog("revision 3: applied"), "\(a.stderr)")
        // The standby's source went on to 3: 2 is nothing it could send after a takeover.
        let older = try await s.approve("sender-a", 2)
        #expect(older.status == 1, "\(older)")
        #expect(older.output.contains("revision 2 cannot be approved: the standby's source"), "\(older)")
        #expect(older.output.contains("(it is at revision 3)"), "\(older)")
        let newest = try await s.approve("sender-a")
        #expect(newest.status == 0 && newest.output.contains("revision 3 approved"), "\(newest)")
        #expect(await s.everyHost(has: "[www]\nv = 3\n"), "\(a.stderr)")
        a.signal(SIGTERM)
        #expect(await a.waitForExit(timeout: 30) == 0)
        await s.stop()
    }

    @Test func aReceiverScriptWithCoordinationIsRefused() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write(
            "r.lua",
            """
            settings { listen = "127.0.0.1:0", coordination = { etcd = { "http://127.0.0.1:2379" }, name = "a" } }
            module "m" { path = "\(dir.at("m"))" }
            """)
        let (status, _, stderr) = try await RunnerProcess.run(["serve", dir.at("r.lua")], logDirectory: dir.path)
        #expect(status == 2)
        #expect(stderr.contains("settings.coordination is a sender's"), "\(stderr)")
    }
}
