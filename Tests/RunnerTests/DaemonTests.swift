import Foundation
import TestSupport
import Testing

@testable import Pipeline

/// `runner serve` on 127.0.0.1 with runner:// senders: round trips, auth, address
/// rules, connection limits and slow peers. After each refusal the daemon still serves.
@Suite struct DaemonTests {
    struct Setup {
        let dir: TemporaryDirectory
        var source: String { dir.at("src") }
        var module: String { dir.at("module") }

        init(settings: String = "", module extra: String = "") throws {
            dir = try TemporaryDirectory()
            try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: dir.at("module"), withIntermediateDirectories: true)
            try dir.write("secrets", "sync:s3cret\nother:0ther\n", mode: 0o600)
            try dir.write("sync.secret", "s3cret\n", mode: 0o600)
            try dir.write(
                "receiver.lua",
                """
                settings { listen = "127.0.0.1:0", handshake_timeout = 1, \(settings) }
                module "fpm" { path = "module", auth_users = { "sync" }, secrets = "secrets", \(extra) }
                module "other" { path = "module", auth_users = { "other" }, secrets = "secrets" }
                """)
        }

        func pipeline(port: Int, user: String = "sync", secretFile: String = "sync.secret", module: String = "fpm")
            throws
        {
            try dir.write(
                "p.lua",
                """
                pipeline "d" {
                  source = "src", to = "runner://127.0.0.1:\(port)/\(module)", delete = true, delay = 0.05,
                  auth = { user = "\(user)", secret_file = "\(secretFile)" },
                }
                """)
        }

        func once() async throws -> (status: Int32, stdout: String, stderr: String) {
            try await RunnerProcess.run(["run", dir.at("p.lua"), "--once"], logDirectory: dir.path)
        }
    }

    @Test func liveRunThroughTheDaemon() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        try s.dir.write("src/www.conf", "[www]\n", mode: 0o640)
        try s.dir.write("src/sub/x.conf", "x")
        let daemon = try await ServeProcess(script: s.dir.at("receiver.lua"), logDirectory: s.dir.path)
        try s.pipeline(port: daemon.port)
        let runner = try RunnerProcess(["run", s.dir.at("p.lua")], logDirectory: s.dir.path)
        #expect(await runner.waitForLog("ready"), "\(runner.stderr)")
        #expect(await eventually { TreeSnapshot(s.source) == TreeSnapshot(s.module) }, "\(runner.stderr)")
        try s.dir.write("src/new.conf", "new")
        #expect(
            try sh(
                "sed -i 's/www/pool/' www.conf && rm sub/x.conf && ln -s www.conf link && chmod 600 new.conf",
                in: s.source
            ).status == 0)
        #expect(await eventually { TreeSnapshot(s.source) == TreeSnapshot(s.module) }, "\(runner.stderr)")
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit() == 0)
        #expect(await daemon.stop() == 0)
    }

    @Test func wrongSecretUnknownUserAndOtherModuleAllReadTheSame() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        try s.dir.write("src/a.conf", "a")
        try s.dir.write("wrong.secret", "nope\n", mode: 0o600)
        let daemon = try await ServeProcess(script: s.dir.at("receiver.lua"), logDirectory: s.dir.path)
        // The sender says what failed and where; the receiver's log says which (the daemon
        // tells a stranger nothing more than "access denied").
        let cases = [
            (
                "sync", "wrong.secret", "fpm",
                "authentication failed at runner://127.0.0.1:\(daemon.port)/fpm (wrong user or wrong secret"
            ),
            ("nobody", "sync.secret", "fpm", "authentication failed at runner://127.0.0.1:\(daemon.port)/fpm"),
            ("sync", "sync.secret", "other", "authentication failed at runner://127.0.0.1:\(daemon.port)/other"),
            (
                "sync", "sync.secret", "missing",
                "access refused at runner://127.0.0.1:\(daemon.port)/missing (no such module"
            ),
        ]
        for (user, file, module, expected) in cases {
            try s.pipeline(port: daemon.port, user: user, secretFile: file, module: module)
            let r = try await s.once()
            #expect(r.status == 1)
            #expect(r.stderr.contains(expected), "\(user)/\(module): \(r.stderr)")
        }
        #expect(TreeSnapshot(s.module).entries.isEmpty)
        // And the daemon still serves the right credentials.
        try s.pipeline(port: daemon.port)
        #expect(try await s.once().status == 0)
        #expect(TreeSnapshot(s.module) == TreeSnapshot(s.source))
        _ = await daemon.stop()
    }

    @Test func aRecordedAnswerDoesNotOpenAnotherConnection() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        let daemon = try await ServeProcess(script: s.dir.at("receiver.lua"), logDirectory: s.dir.path)
        let first = try RawConnection(port: daemon.port)
        first.write(WireBytes.hello(user: "sync"))
        let challenge = try #require(first.readFrame())
        #expect(challenge.type == 0x05 && challenge.payload.count == 32)
        let answer = AuthProof.response(secret: "s3cret", nonce: challenge.payload, module: "fpm", user: "sync")
        first.write(WireBytes.frame(0x06, answer))
        #expect(first.readFrame()?.type == 0x02, "the genuine answer is welcomed")

        let replay = try RawConnection(port: daemon.port)
        replay.write(WireBytes.hello(user: "sync"))
        let second = try #require(replay.readFrame())
        #expect(second.payload != challenge.payload, "each connection gets a fresh nonce")
        replay.write(WireBytes.frame(0x06, answer))
        let refused = try #require(replay.readFrame())
        #expect(refused.type == 0x03)
        #expect(String(decoding: refused.payload.dropFirst(), as: UTF8.self).contains("access denied"))
        _ = await daemon.stop()
    }

    @Test func deniedAddressIsRefusedBeforeAuth() async throws {
        let s = try Setup(module: "hosts_deny = { \"127.0.0.0/8\" },")
        defer { s.dir.remove() }
        let daemon = try await ServeProcess(script: s.dir.at("receiver.lua"), logDirectory: s.dir.path)
        let c = try RawConnection(port: daemon.port)
        c.write(WireBytes.hello(user: "sync"))
        let reply = try #require(c.readFrame())
        #expect(reply.type == 0x03, "an error, not a challenge")
        #expect(await daemon.process.waitForLog("refused: address not allowed"))
        _ = await daemon.stop()
    }

    @Test func silentPeersAreDroppedAndTheConnectionLimitHolds() async throws {
        let s = try Setup(settings: "max_connections = 3,")
        defer { s.dir.remove() }
        try s.dir.write("src/a.conf", "a")
        let daemon = try await ServeProcess(script: s.dir.at("receiver.lua"), logDirectory: s.dir.path)
        // Slow loris: connections that say nothing are closed at the handshake's deadline,
        // and counted rather than said one by one.
        let silent = try (0..<3).map { _ in try RawConnection(port: daemon.port) }
        let opened = Date()
        for c in silent { _ = c.readAll(timeout: 5) }
        #expect(Date().timeIntervalSince(opened) < 3, "closed after \(Date().timeIntervalSince(opened)) s")
        #expect(
            await daemon.process.waitForLog(
                "refused a connection from 127.0.0.1: did not authenticate within handshake_timeout"),
            "\(daemon.process.stderr)")

        // 1,000 connections at once: past ten waiting from one address, the rest are turned
        // away, and said in a sum.
        var flood: [RawConnection] = []
        for _ in 0..<1000 { if let c = try? RawConnection(port: daemon.port, wait: false) { flood.append(c) } }
        #expect(
            await daemon.process.waitForLog("too many unauthenticated connections from its address", timeout: 25),
            "\(daemon.process.stderr.suffix(2000))")
        #expect(daemon.process.stderr.split(separator: "\n").count { $0.contains("refused") } <= 3)
        flood.removeAll()
        // The daemon still serves once the flood is gone.
        try s.pipeline(port: daemon.port)
        #expect(
            await eventually(timeout: 20) {
                (try? sh("\(RunnerProcess.binary) run \(s.dir.at("p.lua")) --once", in: s.dir.path).status) == 0
            })
        #expect(TreeSnapshot(s.module) == TreeSnapshot(s.source))
        _ = await daemon.stop()
    }

    @Test func durableModuleSyncsAndApplies() async throws {
        let s = try Setup(module: "fsync = true,")
        defer { s.dir.remove() }
        for i in 0..<5 { try s.dir.write("src/d\(i)/f.conf", "\(i)") }
        let daemon = try await ServeProcess(script: s.dir.at("receiver.lua"), logDirectory: s.dir.path)
        try s.pipeline(port: daemon.port)
        #expect(try await s.once().status == 0)
        #expect(TreeSnapshot(s.module) == TreeSnapshot(s.source))
        _ = await daemon.stop()
    }

    @Test func readOnlyModuleRefusesBatches() async throws {
        let s = try Setup(module: "read_only = true,")
        defer { s.dir.remove() }
        try s.dir.write("src/a.conf", "a")
        let daemon = try await ServeProcess(script: s.dir.at("receiver.lua"), logDirectory: s.dir.path)
        try s.pipeline(port: daemon.port)
        let r = try await s.once()
        #expect(r.status == 1)
        #expect(r.stderr.contains("read-only"), "\(r.stderr)")
        #expect(TreeSnapshot(s.module).entries.isEmpty)
        _ = await daemon.stop()
    }

    @Test func sessionKilledWhileStagingLeavesTheModuleAsItWas() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        try s.dir.write("src/a.conf", "a v1\n")
        try s.dir.write("src/b.conf", "b v1\n")
        let daemon = try await ServeProcess(script: s.dir.at("receiver.lua"), logDirectory: s.dir.path)
        try s.pipeline(port: daemon.port)
        #expect(try await s.once().status == 0)
        let before = TreeSnapshot(s.module)

        // A sender that stages one file of its batch and then stalls.
        try s.dir.write("payload", "staged but never committed\n")
        try DeltaFiles.delta(signature: nil, new: s.dir.at("payload"), output: s.dir.at("payload.delta"))
        let delta = Array(try Data(contentsOf: URL(fileURLWithPath: s.dir.at("payload.delta"))))
        let c = try RawConnection(port: daemon.port)
        c.write(WireBytes.hello(user: "sync"))
        let challenge = try #require(c.readFrame())
        c.write(
            WireBytes.frame(
                0x06, AuthProof.response(secret: "s3cret", nonce: challenge.payload, module: "fpm", user: "sync")))
        #expect(c.readFrame()?.type == 0x02)
        c.write(WireBytes.frame(0x30, WireBytes.le64(7)) + HostilePeerTests.file("a.conf", delta: delta))
        let staging = s.dir.at(".module.runner-staging")
        #expect(await eventually { ((try? FileManager.default.subpathsOfDirectory(atPath: staging)) ?? []).count > 0 })

        let pid = daemon.process.process.processIdentifier
        let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        let session = try #require(children.split(separator: " ").compactMap { Int32($0) }.first, "no session process")
        kill(session, SIGKILL)
        #expect(c.readAll(timeout: 5).isEmpty, "the connection closes")
        #expect(FileManager.default.fileExists(atPath: staging), "killed mid-staging")
        #expect(TreeSnapshot(s.module) == before)

        // The next session clears the leftover staging and applies a real batch.
        try s.dir.write("src/a.conf", "a v2\n")
        #expect(try await s.once().status == 0)
        #expect(TreeSnapshot(s.module) == TreeSnapshot(s.source))
        #expect(!FileManager.default.fileExists(atPath: staging))
        #expect(await daemon.stop() == 0)
    }

    @Test(arguments: [
        ("function(batch) return false, 'refused ' .. batch.paths[1] end", "refused a.conf"),
        ("function(batch) error('boom') end", "boom"),
        (
            "{ kind = 'exec', argv = { 'sh', '-c', 'echo bad config >&2; exit 3' }, validate = true }",
            "exit status 3: bad config"
        ),
        ("function(batch) while true do end end", "timed out after 1s"),
    ])
    func validatingActionThatFailsRollsTheBatchBack(action: String, message: String) async throws {
        let s = try Setup(module: "on_sync = { \(action) }, function_timeout = 1,")
        defer { s.dir.remove() }
        // Sizes differ: two files written in one clock tick with one size would look the
        // same to the quick check once the 2 s racy window has passed (a loaded machine).
        try s.dir.write("module/a.conf", "old\n")
        let before = TreeSnapshot(s.module)
        try s.dir.write("src/a.conf", "new content\n")
        let daemon = try await ServeProcess(script: s.dir.at("receiver.lua"), logDirectory: s.dir.path)
        try s.pipeline(port: daemon.port)
        let r = try await s.once()
        #expect(r.status == 1)
        #expect(r.stderr.contains("rolled back:") && r.stderr.contains(message), "\(r.stderr)")
        #expect(TreeSnapshot(s.module) == before)
        #expect(!FileManager.default.fileExists(atPath: s.dir.at(".module.runner-staging")))
        #expect(await daemon.stop() == 0)
    }

    @Test func changedReceiverScriptAppliesToTheNextConnectionAndABrokenOneIsRefused() async throws {
        let s = try Setup(module: "read_only = true,")
        defer { s.dir.remove() }
        try s.dir.write("src/a.conf", "a")
        let daemon = try await ServeProcess(script: s.dir.at("receiver.lua"), logDirectory: s.dir.path)
        try s.pipeline(port: daemon.port)
        #expect(try await s.once().status == 1)
        let writable = """
            settings { listen = "127.0.0.1:0", handshake_timeout = 1 }
            module "fpm" { path = "module", auth_users = { "sync" }, secrets = "secrets" }
            """
        try s.dir.write("receiver.lua", writable)
        #expect(try await s.once().status == 0)
        #expect(TreeSnapshot(s.module) == TreeSnapshot(s.source))

        // A broken script is refused with its line; the daemon serves the previous one.
        try s.dir.write("receiver.lua", writable + "\nmodule \"x\" { pth = \"module\" }\n")
        try s.dir.write("src/b.conf", "b")
        #expect(try await s.once().status == 0)
        #expect(TreeSnapshot(s.module) == TreeSnapshot(s.source))
        #expect(daemon.process.stderr.contains("reload refused"), "\(daemon.process.stderr)")
        #expect(daemon.process.stderr.contains("receiver.lua:3"), "\(daemon.process.stderr)")

        // SIGHUP reloads even when the file did not change since the daemon looked.
        try s.dir.write(
            "receiver.lua",
            writable.replacingOccurrences(of: "secrets = \"secrets\"", with: "secrets = \"secrets\", read_only = true"))
        try s.dir.write("src/c.conf", "c")
        let reloads = { daemon.process.stderr.components(separatedBy: "reloaded").count - 1 }
        #expect(reloads() == 1)
        daemon.process.signal(SIGHUP)
        #expect(await eventually { reloads() == 2 }, "\(daemon.process.stderr)")
        let r = try await s.once()
        #expect(r.status == 1)
        #expect(r.stderr.contains("read-only"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: s.dir.at("module/c.conf")))
        #expect(await daemon.stop() == 0)
    }

    @Test func secretsReadableByOthersStopTheDaemonFromStarting() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        chmod(s.dir.at("secrets"), 0o644)
        let r = try await RunnerProcess.run(["serve", s.dir.at("receiver.lua")], logDirectory: s.dir.path)
        #expect(r.status == 2)
        #expect(r.stderr.contains("chmod 600"), "\(r.stderr)")
    }
}

/// A receiver whose file system fills up while staging: the batch fails, the module
/// is as it was, staging is gone, and the daemon serves the next batch that fits.
@Suite(.serialized) struct DiskFullTests {
    @Test func enospcDuringStagingChangesNothing() async throws {
        let s = try DaemonTests.Setup()
        defer { s.dir.remove() }
        // A 2 MiB tmpfs holds the module and its staging (they must share a file system).
        let mount = s.dir.at("small")
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        guard try sh("mount -t tmpfs -o size=2m tmpfs \(mount)", in: s.dir.path).status == 0 else {
            Issue.record("needs root to mount a tmpfs")
            return
        }
        defer { _ = try? sh("umount \(mount)", in: s.dir.path) }
        try s.dir.write("small/module/keep.conf", "old\n")
        try s.dir.write(
            "receiver.lua",
            """
            settings { listen = "127.0.0.1:0" }
            module "fpm" { path = "small/module", auth_users = { "sync" }, secrets = "secrets" }
            """)
        let before = TreeSnapshot(s.dir.at("small/module"))
        let daemon = try await ServeProcess(script: s.dir.at("receiver.lua"), logDirectory: s.dir.path)
        try s.pipeline(port: daemon.port)
        try s.dir.write("src/keep.conf", "new\n")
        try Data(DeltaRoundTripData.bytes(3 << 20)).write(to: URL(fileURLWithPath: s.dir.at("src/too-big.bin")))
        let full = try await s.once()
        #expect(full.status == 1, "\(full.stderr)")
        #expect(full.stderr.contains("No space left on device"), "\(full.stderr)")
        #expect(TreeSnapshot(s.dir.at("small/module")) == before)
        #expect(await eventually { !FileManager.default.fileExists(atPath: s.dir.at("small/.module.runner-staging")) })

        try FileManager.default.removeItem(atPath: s.dir.at("src/too-big.bin"))
        let fits = try await s.once()
        #expect(fits.status == 0, "\(fits.stderr)")
        #expect(TreeSnapshot(s.dir.at("small/module")) == TreeSnapshot(s.source))
        _ = await daemon.stop()
    }
}
