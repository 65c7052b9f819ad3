import Foundation
import TestSupport
import Testing

/// The php-fpm case end to end, against a real php-fpm (Debian's package, started by
/// scripts/test-phpfpm.sh) behind a real `runner serve` on 127.0.0.1; requests go
/// through `cgi-fcgi`, an independent FastCGI client.
@Suite(.serialized) struct PhpFpmTests {
    struct Setup {
        let dir: TemporaryDirectory
        let php: TestPhpFpm
        let daemon: ServeProcess
        var source: String { dir.at("src") }
        var pool: String { php.pools + "/www.conf" }

        init(onSync: ((TestPhpFpm) -> String)? = nil, delay: Double = 0.05) async throws {
            dir = try TemporaryDirectory()
            php = try TestPhpFpm(directory: dir.at("fpm"))
            try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: php.pools + "/www.conf", toPath: dir.at("src/www.conf"))
            let actions = onSync?(php) ?? php.reloadAction()
            try dir.write(
                "receiver.lua",
                """
                local phpfpm = require "phpfpm"
                settings { listen = "127.0.0.1:0" }
                module "fpm" { path = "\(php.pools)", on_sync = { \(actions) } }
                """)
            daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path)
            try dir.write(
                "p.lua",
                """
                local tempfiles = require "tempfiles"
                pipeline "fpm" { source = "src", to = "runner://127.0.0.1:\(daemon.port)/fpm", delete = true, delay = \(delay),
                                 ignore = { tempfiles.all } }
                """)
        }

        func once() async throws -> (status: Int32, stdout: String, stderr: String) {
            try await RunnerProcess.run(["run", dir.at("p.lua"), "--once"], logDirectory: dir.path)
        }

        func finish() async {
            _ = await daemon.stop()
            php.stop()
            dir.remove()
        }
    }

    @Test func changedEnvValueIsServedAfterOneReload() async throws {
        let s = try await Setup()
        #expect(s.php.request(s.php.envScript) == "initial")
        #expect(try await s.once().status == 0)
        let reloads = s.php.reloads
        #expect(
            try sh("sed -i 's/env\\[APP_MODE\\] = initial/env[APP_MODE] = changed/' www.conf", in: s.source).status == 0
        )
        // --dry-run names the receiver's actions and runs none of them.
        let dry = try await RunnerProcess.run(
            ["run", s.dir.at("p.lua"), "--once", "--dry-run"], logDirectory: s.dir.path)
        #expect(
            dry.stdout.contains(
                "then on runner://127.0.0.1:\(s.daemon.port)/fpm: php-fpm reload (rolls the batch back on failure)"),
            "\(dry.stdout) \(dry.stderr)")
        #expect(s.php.reloads == reloads && s.php.request(s.php.envScript) == "initial")
        let r = try await s.once()
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("applied, php-fpm reloaded"), "\(r.stderr)")
        #expect(s.php.request(s.php.envScript) == "changed")
        #expect(s.php.reloads == reloads + 1)
        await s.finish()
    }

    @Test func brokenPoolFileIsRolledBackAndPhpFpmKeepsServing() async throws {
        let s = try await Setup()
        #expect(try await s.once().status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: s.pool))
        let master = try #require(s.php.masterPID)
        let reloads = s.php.reloads
        #expect(
            try sh("sed -i 's/initial/broken/' www.conf && echo 'env[BROKEN = x' >> www.conf", in: s.source).status == 0
        )
        let r = try await s.once()
        #expect(r.status == 1)
        #expect(r.stderr.contains("rolled back: php-fpm reload: php-fpm -t:"), "\(r.stderr)")
        #expect(r.stderr.contains("syntax error"), "\(r.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.pool)) == before, "the old pool file is back byte for byte")
        #expect(s.php.masterPID == master)
        #expect(s.php.reloads == reloads, "php-fpm never saw the broken file")
        #expect(s.php.request(s.php.envScript) == "initial")
        #expect(!FileManager.default.fileExists(atPath: s.dir.at("fpm/.pool.d.runner-staging")))
        await s.finish()
    }

    @Test func burstOfEditsAndTempFilesReloadsOncePerBatch() async throws {
        let s = try await Setup(delay: 0.3)
        let runner = try RunnerProcess(["run", s.dir.at("p.lua")], logDirectory: s.dir.path)
        #expect(await runner.waitForLog("ready"))
        let reloads = s.php.reloads
        let batchesBefore = s.daemon.process.stderr.components(separatedBy: "applied").count
        // Seven edits in a burst: sed -i twice, a vim-style save, an rsync-style replace.
        #expect(
            try sh(
                """
                sed -i 's/initial/one/' www.conf
                sed -i 's/one/two/' www.conf
                echo swap > .www.conf.swp
                cp www.conf 4913 && rm 4913
                mv www.conf www.conf~ && sed 's/two/three/' www.conf~ > www.conf && rm www.conf~ .www.conf.swp
                sed 's/three/final/' www.conf > .www.conf.Xa12Bc && mv .www.conf.Xa12Bc www.conf
                echo '; a comment' >> www.conf
                """, in: s.source
            ).status == 0)
        #expect(await eventually(timeout: 20) { s.php.request(s.php.envScript) == "final" }, "\(runner.stderr)")
        #expect(await eventually { runner.stderr.contains("php-fpm reloaded") })
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit() == 0)
        let batches = s.daemon.process.stderr.components(separatedBy: "applied").count - batchesBefore
        let added = s.php.reloads - reloads
        #expect(
            added >= 1 && added == batches,
            "\(added) reloads for \(batches) batches: \(s.daemon.process.stderr) \((try? String(contentsOfFile: s.dir.at("fpm/php-fpm.log"), encoding: .utf8)) ?? "")"
        )
        #expect(added < 7, "never one reload per edit")
        await s.finish()
    }

    @Test func hangingActionIsKilledAtItsTimeoutAndTheDaemonKeepsServing() async throws {
        let marker = "runner-hang-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        let s = try await Setup(onSync: { _ in
            "{ kind = \"exec\", argv = { \"sh\", \"-c\", \"sleep 30; : \(marker)\" }, timeout = 1 }"
        })
        // A change, so that the actions run (a batch that changes nothing runs none).
        try s.dir.write("src/first.conf", "; first\n")
        let started = Date()
        let r = try await s.once()
        #expect(r.status == 1)
        #expect(r.stderr.contains("timed out after 1s"), "\(r.stderr)")
        #expect(Date().timeIntervalSince(started) < 10)
        // "[s]leep" keeps pgrep from finding the shell that runs it.
        #expect(
            try sh("pgrep -f '[s]leep 30; : \(marker)' || true", in: "/").output.isEmpty,
            "the command and its children are gone")
        // The batch itself stays (exec is not a validation), and the next one is served.
        try s.dir.write("src/second.conf", "; second\n")
        let again = try await s.once()
        #expect(again.stderr.contains("timed out after 1s"), "\(again.stderr)")
        #expect(TreeSnapshot(s.source) == TreeSnapshot(s.php.pools))
        await s.finish()
    }

    @Test func reloadThatKillsPhpFpmRestoresTheFilesAndStartsItAgain() async throws {
        let s = try await Setup()
        #expect(try await s.once().status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: s.pool))
        // A second pool on a port that is taken: `php-fpm -t` passes, the reload cannot bind.
        let busy = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(busy) }
        let busyPort = try freeLoopbackPort()
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(busyPort).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        #expect(
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(busy, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            } == 0)
        listen(busy, 1)
        try s.dir.write(
            "src/second.conf", "[second]\nlisten = 127.0.0.1:\(busyPort)\npm = static\npm.max_children = 1\n")
        let r = try await s.once()
        #expect(r.status == 1)
        #expect(r.stderr.contains("rolled back"), "\(r.stderr)")
        #expect(
            r.stderr.contains("php-fpm restarted with the previous files")
                || r.stderr.contains("php-fpm reloaded with the previous files"),
            "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: s.php.pools + "/second.conf"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.pool)) == before)
        #expect(await eventually { s.php.request(s.php.envScript) == "initial" }, "php-fpm serves again")
        await s.finish()
    }
}
