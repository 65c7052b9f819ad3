import Foundation
import Pipeline
import TestSupport
import Testing

/// `runner run` and `runner serve` as services: systemd's notifications on a socket the
/// test binds, the flush at SIGTERM, and the status address's four faces read by real
/// clients (promtool, a headless browser, `runner status`).
@Suite struct ServiceTests {
    struct Setup {
        let dir: TemporaryDirectory
        var source: String { dir.at("src") }

        init() throws {
            dir = try TemporaryDirectory()
            try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
            try dir.write("src/www.conf", "[www]\n")
        }

        /// A receiver daemon on `listen` serving `module<i>`.
        func serve(
            _ i: Int, listen: String = "127.0.0.1:0", settings: String = "", environment: [String: String] = [:]
        ) async throws -> ServeProcess {
            try FileManager.default.createDirectory(atPath: dir.at("module\(i)"), withIntermediateDirectories: true)
            try dir.write(
                "receiver\(i).lua",
                "settings { listen = \"\(listen)\", \(settings) }\nmodule \"fpm\" { path = \"module\(i)\" }\n")
            return try await ServeProcess(
                script: dir.at("receiver\(i).lua"), environment: environment, logDirectory: dir.path)
        }

        /// Writes the pipeline script to the given targets.
        func pipeline(_ targets: [String], settings: String = "", delay: Double = 0.05) throws -> String {
            let to = targets.map { "\"\($0)\"" }.joined(separator: ", ")
            return try dir.write(
                "p.lua",
                "settings { \(settings) }\npipeline \"p\" { source = \"src\", to = { \(to) }, delay = \(delay), max_delay = 30 }\n"
            )
        }
    }

    /// The status port a process logged ("status on http://127.0.0.1:PORT/").
    static func statusPort(_ p: RunnerProcess) async -> Int? {
        guard await p.waitForLog("status on http://127.0.0.1:"),
            let line = p.stderr.split(separator: "\n").first(where: { $0.contains("status on http://") }),
            let port = line.split(separator: ":").last.flatMap({ Int($0.prefix { $0.isNumber }) })
        else { return nil }
        return port
    }

    @Test func systemdHearsReadyAfterTheInitialSyncThenReloadingWatchdogAndStopping() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        let daemon = try await s.serve(0)
        let notify = try NotifySocket(path: s.dir.at("notify"))
        let script = try s.pipeline(["runner://127.0.0.1:\(daemon.port)/fpm"])
        let runner = try RunnerProcess(
            ["run", script], environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "300000"],
            logDirectory: s.dir.path)
        let ready = await notify.waitFor("READY=1")
        #expect(ready != nil, "\(runner.stderr)")
        // READY comes once the host's initial sync came back: the file is there already.
        #expect(FileManager.default.fileExists(atPath: s.dir.at("module0/www.conf")))
        #expect(notify.messages[ready!].contains("STATUS=1 host current"), "\(notify.messages)")

        // WATCHDOG=1 every half of WATCHDOG_USEC (0.15 s): several, none twice at once.
        #expect(await eventually { notify.messages.filter { $0 == "WATCHDOG=1\n" }.count >= 4 })
        let pings = zip(notify.messages, notify.arrivals).filter { $0.0 == "WATCHDOG=1\n" }.map(\.1)
        for (a, b) in zip(pings, pings.dropFirst()) { #expect(b.timeIntervalSince(a) > 0.1) }

        // SIGHUP: RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC, microseconds), then READY=1.
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        runner.signal(SIGHUP)
        let reloading = await notify.waitFor("RELOADING=1", after: ready! + 1)
        #expect(reloading != nil)
        let usec = notify.messages[reloading!].split(separator: "\n").first { $0.hasPrefix("MONOTONIC_USEC=") }
            .flatMap { Double($0.dropFirst("MONOTONIC_USEC=".count)) }
        #expect(usec.map { abs($0 / 1e6 - (Double(now.tv_sec) + Double(now.tv_nsec) / 1e9)) < 10 } == true)
        let reloaded = await notify.waitFor("READY=1", after: reloading! + 1)
        #expect(reloaded != nil)

        // A broken script on SIGHUP: READY=1 again (the old one serves), STATUS= names file:line.
        try s.dir.write("p.lua", "settings {}\npipeline \"p\" { source = \"src\", to = { 42 } }\n")
        runner.signal(SIGHUP)
        let refused = await notify.waitFor("READY=1", after: reloaded! + 1)
        #expect(refused.map { notify.messages[$0].contains("p.lua:2") } == true, "\(notify.messages)")

        runner.signal(SIGTERM)
        #expect(await notify.waitFor("STOPPING=1") != nil)
        #expect(await runner.waitForExit() == 0)
        _ = await daemon.stop()
    }

    /// lsyncd's own test: files written just before SIGTERM all reach the receiver.
    @Test func sigtermSendsTheTwoThousandFilesJustWritten() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        let daemon = try await s.serve(0)
        // A long delay: without the flush, none of them would have been cut into a batch yet.
        let script = try s.pipeline(["runner://127.0.0.1:\(daemon.port)/fpm"], delay: 5)
        let runner = try RunnerProcess(["run", script], logDirectory: s.dir.path)
        #expect(await runner.waitForLog("ready"), "\(runner.stderr)")
        try FileManager.default.createDirectory(atPath: s.dir.at("src/burst"), withIntermediateDirectories: true)
        for i in 0..<2000 { try s.dir.write("src/burst/f\(i).conf", "file \(i)\n") }
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit(timeout: 30) == 0, "\(runner.stderr)")
        let arrived = (try? FileManager.default.contentsOfDirectory(atPath: s.dir.at("module0/burst"))) ?? []
        #expect(arrived.count == 2000, "\(runner.stderr)")
        #expect(runner.stderr.contains("stopped with every host up to date"))
        _ = await daemon.stop()
    }

    @Test func statusMetricsAndHealthzShowEveryHostWithTheDownOneMarked() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        let up = try await s.serve(0)
        let downPort = try freeLoopbackPort()
        let hosts = ["runner://127.0.0.1:\(up.port)/fpm", "runner://127.0.0.1:\(downPort)/fpm"]
        let port = try freeLoopbackPort()
        let script = try s.pipeline(hosts, settings: "status = \"127.0.0.1:\(port)\", behind_limit = 1")
        let runner = try RunnerProcess(["run", script], logDirectory: s.dir.path)
        #expect(await Self.statusPort(runner) == port, "\(runner.stderr)")
        #expect(await runner.waitForLog("ready"))

        let status = try httpGet(port: port, "/status")
        let json = try JSONSerialization.jsonObject(with: Data(status.body.utf8)) as? [String: Any]
        let groups = (json?["pipelines"] as? [[String: Any]])?.first?["groups"] as? [[String: Any]]
        let listed = (groups?.first?["hosts"] as? [[String: Any]]) ?? []
        #expect(listed.compactMap { $0["uri"] as? String } == hosts)
        #expect(listed.first?["state"] as? String == "current")
        #expect(["unreachable", "backoff"].contains(listed.last?["state"] as? String ?? ""), "\(status.body)")
        #expect((listed.last?["lastError"] as? String ?? "").contains("Connection refused"))

        // The down host stays behind past behind_limit: unhealthy.
        #expect(await eventually { (try? httpGet(port: port, "/healthz").status) == 503 })

        let metrics = try httpGet(port: port, "/metrics")
        #expect(metrics.body.contains("runner_host_up{pipeline=\"p\",host=\"\(hosts[1])\"} 0"))
        let file = try s.dir.write("metrics.txt", metrics.body)
        let check = try sh("promtool check metrics < \(file)", in: s.dir.path)
        #expect(check.status == 0, "\(check.output)")

        // `runner status`: 1 while a host is behind, with both in its table; 0 once it is back.
        let behind = try await RunnerProcess.run(["status", script], logDirectory: s.dir.path)
        #expect(behind.status == 1 && hosts.allSatisfy { behind.stdout.contains($0) }, "\(behind)")
        let back = try await s.serve(1, listen: "127.0.0.1:\(downPort)")
        var last: (status: Int32, stdout: String, stderr: String) = (-1, "", "")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            last = try await RunnerProcess.run(["status", "--address", "127.0.0.1:\(port)"], logDirectory: s.dir.path)
            if last.status == 0 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(last.status == 0 && hosts.allSatisfy { last.stdout.contains($0) }, "\(last)")
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit() == 0)
        _ = await up.stop()
        _ = await back.stop()
    }

    @Test func aGroupWhoseCandidateWaitsPastTheTimeoutIsAProblemThatSaysWhy() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        let up = try await s.serve(0)
        // The group's canary refuses connections: the candidate has no canary to go to.
        let down = "runner://127.0.0.1:\(try freeLoopbackPort())/fpm"
        try s.dir.write(
            "p.lua",
            """
            settings { status = "127.0.0.1:0" }
            group "g" { "\(down)" }
            group "h" { "runner://127.0.0.1:\(up.port)/fpm" }
            pipeline "p" { source = "src", to = { "g", "h" }, rollout = "canary", timeout = 1, delay = 0.05,
                           retry = { initial = 0.2, max = 1 } }
            """)
        let runner = try RunnerProcess(["run", s.dir.at("p.lua")], logDirectory: s.dir.path)
        let port = try #require(await Self.statusPort(runner), "\(runner.stderr)")
        var body = ""
        #expect(
            await eventually {
                body = (try? httpGet(port: port, "/status").body) ?? ""
                return body.contains("group g: revision 1 waits for") && body.contains("canary \(down) failed")
            }, "\(body)")
        #expect(await eventually { (try? httpGet(port: port, "/healthz").status) == 503 })
        // The other group is not held back, and its host is current.
        #expect(!body.contains("group h"), "\(body)")
        let status = try ServiceStatus.decode(Array(body.utf8))
        #expect(status.pipelines.first?.groups.first { $0.name == "h" }?.hosts.first?.state == "current", "\(body)")
        #expect(status.pipelines.first?.groups.first { $0.name == "g" }?.candidate == 1, "\(body)")
        // The metrics say the same: g waits with nothing approved, h approved revision 1.
        let metrics = try httpGet(port: port, "/metrics").body
        let waiting = metrics.split(separator: "\n").first {
            $0.hasPrefix("runner_group_waiting_seconds{pipeline=\"p\",group=\"g\"}")
        }
        #expect((waiting?.split(separator: " ").last.flatMap { Double($0) } ?? 0) > 0, "\(metrics)")
        #expect(metrics.contains("runner_approved_revision{pipeline=\"p\",group=\"h\"} 1"), "\(metrics)")
        #expect(metrics.contains("runner_wanted_revision{pipeline=\"p\",host=\"\(down)\"} 1"), "\(metrics)")
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit() == 0)
        _ = await up.stop()
    }

    @Test func aStatusCommandWithoutAnAddressIsAConfigurationError() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        let script = try s.pipeline(["file://\(s.dir.at("out"))"])
        let r = try await RunnerProcess.run(["status", script], logDirectory: s.dir.path)
        #expect(r.status == 2 && r.stderr.contains("no status address"), "\(r)")
    }

    @Test func theReceiverCountsWhatItsForkedSessionsDid() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        let notify = try NotifySocket(path: s.dir.at("notify"))
        let daemon = try await s.serve(
            0, settings: "status = \"127.0.0.1:0\"", environment: ["NOTIFY_SOCKET": notify.path])
        let port = try #require(await Self.statusPort(daemon.process))
        let ready = try #require(await notify.waitFor("READY=1"))
        #expect(notify.messages[ready].contains("STATUS=serving 1 module(s)"), "\(notify.messages)")
        let good = try s.pipeline(["runner://127.0.0.1:\(daemon.port)/fpm"])
        #expect(try await RunnerProcess.run(["run", "--once", good], logDirectory: s.dir.path).status == 0)
        let bad = try s.dir.write(
            "bad.lua", "pipeline \"p\" { source = \"src\", to = { \"runner://127.0.0.1:\(daemon.port)/nope\" } }\n")
        #expect(try await RunnerProcess.run(["run", "--once", bad], logDirectory: s.dir.path).status == 1)
        // A monitoring probe connects and closes: counted apart, and no error in the log.
        _ = try RawConnection(port: daemon.port)
        var body = ""
        #expect(
            await eventually {
                body = (try? httpGet(port: port, "/status").body) ?? ""
                return body.contains("\"denied\" : 1") && body.contains("\"accepted\" : 1")
                    && body.contains("\"probe\" : 1")
            }, "\(body)")
        #expect(!daemon.process.stderr.contains("closed"), "\(daemon.process.stderr)")
        #expect(body.contains("\"applied\" : 1"), "\(body)")
        let metrics = try httpGet(port: port, "/metrics").body
        #expect(metrics.contains("runner_receiver_connections_total{result=\"denied\"} 1"), "\(metrics)")
        #expect(metrics.contains("runner_receiver_batches_total{module=\"fpm\",result=\"applied\"} 1"), "\(metrics)")
        // A sender keeps its session open: its batches are counted as they happen, not when it ends.
        let live = try RunnerProcess(["run", good], logDirectory: s.dir.path)
        #expect(await live.waitForLog("ready"))
        try s.dir.write("src/new.conf", "[new]\n")
        #expect(
            await eventually {
                body = (try? httpGet(port: port, "/status").body) ?? ""
                return body.contains("\"applied\" : 2")
            }, "\(body)")
        #expect(body.contains("\"sessions\" : 1"), "\(body)")
        live.signal(SIGTERM)
        _ = await live.waitForExit()
        _ = await daemon.stop()
        #expect(await notify.waitFor("STOPPING=1") != nil)
    }

    @Test func aHeadlessBrowserShowsEveryHostOnThePage() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        let up = try await s.serve(0)
        let hosts = ["runner://127.0.0.1:\(up.port)/fpm", "runner://127.0.0.1:\(try freeLoopbackPort())/fpm"]
        let script = try s.pipeline(hosts, settings: "status = \"127.0.0.1:0\"")
        let runner = try RunnerProcess(["run", script], logDirectory: s.dir.path)
        let port = try #require(await Self.statusPort(runner), "\(runner.stderr)")
        #expect(await runner.waitForLog("ready"))
        let dom = try sh(
            "chromium-headless-shell --no-sandbox --disable-gpu --user-data-dir=\(s.dir.at("chromium")) --dump-dom http://127.0.0.1:\(port)/ 2>/dev/null",
            in: s.dir.path)
        #expect(dom.status == 0)
        for host in hosts { #expect(dom.output.contains(host), "\(dom.output)") }
        #expect(dom.output.contains("class=\"badge current\""), "\(dom.output)")
        #expect(dom.output.contains("class=\"badge unreachable\"") || dom.output.contains("class=\"badge backoff\""))
        runner.signal(SIGTERM)
        _ = await runner.waitForExit()
        _ = await up.stop()
    }

    /// `--log-format journal` against a journal socket of the test's own, in a mount
    /// namespace where /run/systemd/journal is a fresh tmpfs (skipped where that is not permitted).
    @Test(.enabled(if: (try? sh("unshare -m true", in: "/").status) == 0, "mount namespaces are not permitted here"))
    func journalEntriesCarryTheHostAndTheRevisionAsFields() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        let daemon = try await s.serve(0)
        let host = "runner://127.0.0.1:\(daemon.port)/fpm"
        let script = try s.pipeline([host])
        try s.dir.write(
            "journal.py",
            """
            import os, socket, subprocess, sys
            journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            journal.bind("/run/systemd/journal/socket")
            subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, env=dict(os.environ, RUNNER_PLUGIN_PATH=""))
            journal.setblocking(False)
            while True:
                try:
                    sys.stdout.write(journal.recv(65536).decode() + "\\x1e")
                except BlockingIOError:
                    break
            """)
        let run = try sh(
            """
            mkdir -p /run/systemd/journal
            unshare -m sh -c 'mount -t tmpfs tmpfs /run/systemd/journal && exec python3 journal.py \(RunnerProcess.binary) run --once --log-format journal \(script)'
            """, in: s.dir.path)
        #expect(run.status == 0, "\(run.output)")
        let entries = run.output.split(separator: "\u{1e}").map(String.init)
        let result = entries.first { $0.contains("MESSAGE=resync to revision 1: applied") }
        #expect(result?.contains("RUNNER_HOST=\(host)\n") == true, "\(entries)")
        #expect(result?.contains("RUNNER_PIPELINE=p\n") == true)
        #expect(result?.contains("RUNNER_REVISION=1\n") == true)
        #expect(result?.contains("PRIORITY=6\n") == true)
        #expect(result?.contains("MESSAGE_ID=5e2b0c6f4a7d4b1c9e3f8a2d6c1b7e40\n") == true)
        // The audit trail: a revision cut is an entry of its own kind, with its author.
        let cut = entries.first { $0.contains("MESSAGE=revision 1 cut") }
        #expect(cut?.contains("MESSAGE_ID=8d0f3c2a61b54e7f9a4c1e6b2d7f5a30\n") == true, "\(entries)")
        #expect(cut?.contains("RUNNER_AUDIT=cut\n") == true && cut?.contains("RUNNER_AUTHOR=") == true)
        _ = await daemon.stop()
    }
}
