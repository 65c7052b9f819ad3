import Foundation
import TestSupport
import Testing

@testable import Pipeline

/// Receivers that dial their sender (`upstream`, `dial://` targets): one behind a firewall
/// that drops every inbound connection converges, and is dialed back after the sender
/// restarts; canary and render hold for them as for any host; a wrong secret, an unknown
/// name and a second claim of a connected name are refused, each said on both sides; and
/// `runner pull --once` exits with the module at its approved revision, or with the reason.
@Suite(.serialized) struct DialInTests {
    struct Setup {
        let dir: TemporaryDirectory
        /// The names that may dial, with their secrets.
        let names: [String]

        init(names: [String]) throws {
            dir = try TemporaryDirectory()
            self.names = names
            try dir.write("dial.secrets", names.map { "\($0):secret-of-\($0)\n" }.joined())
            chmod(dir.at("dial.secrets"), 0o600)
            for name in names { try secretFile(name, "secret-of-\(name)") }
            try dir.write("src/www.conf", "[www]\nenv[APP_MODE] = {{ APP_MODE }}\n")
        }

        /// A secret file for `name` (mode 0600).
        func secretFile(_ name: String, _ secret: String) throws {
            try dir.write("\(name).secret", secret + "\n")
            chmod(dir.at("\(name).secret"), 0o600)
        }

        /// `runner run` with `body` as its script's groups and pipeline, listening on
        /// `listen`; returns it once it listens, with the port it listens on.
        func sender(_ body: String, listen: String = "127.0.0.1:0") async throws -> (RunnerProcess, Int) {
            try dir.write(
                "p.lua",
                """
                settings { state_dir = "state", listen = "\(listen)", dial_secrets = "dial.secrets" }
                \(body)
                """)
            let runner = try RunnerProcess(["run", dir.at("p.lua")], logDirectory: dir.path)
            let host = String(listen.split(separator: ":")[0])
            #expect(await runner.waitForLog("listening for dial-in receivers on \(host):"), "\(runner.stderr)")
            let line = runner.stderr.split(separator: "\n").first { $0.contains("listening for dial-in") } ?? ""
            return (runner, Int(line.split(separator: ":").last ?? "") ?? 0)
        }

        /// A receiver script whose modules (name, module, extra keys) dial `host:port`.
        func receiver(_ file: String, host: String = "127.0.0.1", port: Int, modules: [(String, String, String)])
            throws
        {
            var lua = ""
            for (name, module, extra) in modules {
                try FileManager.default.createDirectory(atPath: dir.at(name), withIntermediateDirectories: true)
                lua += """
                    module "\(module)" { path = "\(name)", \(extra)
                      upstream = { url = "runner://\(host):\(port)/p", name = "\(name)", secret_file = "\(name).secret" } }

                    """
            }
            try dir.write(file, lua)
        }

        func content(_ name: String, _ file: String = "www.conf") -> String? {
            try? String(contentsOfFile: dir.at("\(name)/\(file)"), encoding: .utf8)
        }
    }

    /// Drops every connection into `namespace` that it did not open itself.
    static func dropInbound(_ namespace: String) throws {
        let r = try sh(
            """
            ip netns exec \(namespace) nft add table inet dialtest
            ip netns exec \(namespace) nft add chain inet dialtest in '{ type filter hook input priority 0; policy accept; }'
            ip netns exec \(namespace) nft add rule inet dialtest in ct state established,related accept
            ip netns exec \(namespace) nft add rule inet dialtest in iifname != lo drop
            """, in: "/")
        #expect(r.status == 0, "nft: \(r.output)")
    }

    static var firewallPermitted: Bool {
        PartitionTests.Link.permitted && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft")
    }

    @Test(.enabled(if: firewallPermitted, "network namespaces or nft are not available here"))
    func aReceiverThatNoOneCanReachConvergesByDialingAndRedialsARestartedSender() async throws {
        let link = try PartitionTests.Link(slot: 1)
        defer { link.remove() }
        let s = try Setup(names: ["web-f1"])
        defer { s.dir.remove() }
        try Self.dropInbound(link.namespace)
        // The host's end of the link: the peer's address with .1 last.
        let sender = link.peer.split(separator: ".").dropLast().joined(separator: ".") + ".1"
        // Nothing reaches the receiver's side: a connection there times out (no refusal comes back).
        do {
            let fd = try RemoteConnection.tcpConnect(host: link.peer, port: 8730, timeout: 1)
            close(fd)
            Issue.record("a connection into the namespace went through")
        } catch {
            #expect(error.message.contains("timed out"), "\(error)")
        }
        let body = """
            group "g" { "dial://web-f1/fpm", vars = { APP_MODE = "functional" } }
            pipeline "p" { source = "src", to = { "g" }, delay = 0.05, delete = true, render = { "*.conf" },
                           retry = { initial = 0.2, max = 1 } }
            """
        var (runner, port) = try await s.sender(body, listen: "\(sender):0")
        try s.receiver("r.lua", host: sender, port: port, modules: [("web-f1", "fpm", "")])
        let receiver = try RunnerProcess(
            ["serve", s.dir.at("r.lua")], logDirectory: s.dir.path,
            launcher: ["/usr/sbin/ip", "netns", "exec", link.namespace])
        defer { receiver.signal(SIGTERM) }
        let rendered = "[www]\nenv[APP_MODE] = functional\n"
        #expect(await eventually(timeout: 15) { s.content("web-f1") == rendered }, "\(runner.stderr)")
        try s.dir.write("src/later.conf", "later\n")
        #expect(await eventually(timeout: 10) { s.content("web-f1", "later.conf") == "later\n" }, "\(runner.stderr)")

        // The sender dies; a change made meanwhile arrives once it is back, the receiver dialing again.
        runner.signal(SIGKILL)
        _ = await runner.waitForExit()
        try s.dir.write("src/while-down.conf", "down\n")
        (runner, _) = try await s.sender(body, listen: "\(sender):\(port)")
        defer { runner.signal(SIGTERM) }
        #expect(
            await eventually(timeout: 15) { s.content("web-f1", "while-down.conf") == "down\n" },
            "\(runner.stderr)\n\(receiver.stderr)")
        #expect(receiver.stderr.components(separatedBy: "dialed runner://").count - 1 >= 2, "\(receiver.stderr)")
    }

    @Test func aCanaryAndRenderedValuesHoldForHostsThatDial() async throws {
        let s = try Setup(names: ["f1", "f2", "f3"])
        defer { s.dir.remove() }
        let (runner, port) = try await s.sender(
            """
            group "functional" { "dial://f1/f1", "dial://f2/f2", "dial://f3/f3", vars = { APP_MODE = "functional" } }
            pipeline "p" { source = "src", to = { "functional" }, rollout = "canary", render = { "*.conf" },
                           delay = 0.05, retry = { initial = 0.2, max = 1 } }
            """)
        defer { runner.signal(SIGTERM) }
        let refusing =
            "on_sync = { { kind = \"exec\", argv = { \"sh\", \"-c\", \"! grep -rqs broken \\\"$RUNNER_MODULE_PATH\\\"\" }, validate = true } },"
        try s.receiver(
            "r.lua", port: port, modules: [("f1", "f1", refusing), ("f2", "f2", refusing), ("f3", "f3", refusing)])
        let receiver = try RunnerProcess(["serve", s.dir.at("r.lua")], logDirectory: s.dir.path)
        defer { receiver.signal(SIGTERM) }
        let all = ["f1", "f2", "f3"]
        let good = "[www]\nenv[APP_MODE] = functional\n"
        #expect(await eventually(timeout: 15) { all.allSatisfy { s.content($0) == good } }, "\(runner.stderr)")

        try s.dir.write("src/www.conf", "[www]\nenv[APP_MODE] = {{ APP_MODE }} broken\n")
        #expect(await runner.waitForLog("held: canary dial://"), "\(runner.stderr)")
        // The canary rolled back; the others never got it.
        #expect(all.allSatisfy { s.content($0) == good }, "\(runner.stderr)")
        let fix = "[www]\nenv[APP_MODE] = {{ APP_MODE }}\nlisten = 9000\n"
        try s.dir.write("src/www.conf", fix)
        let fixed = "[www]\nenv[APP_MODE] = functional\nlisten = 9000\n"
        #expect(await eventually(timeout: 15) { all.allSatisfy { s.content($0) == fixed } }, "\(runner.stderr)")
    }

    @Test func aWrongSecretAnUnknownNameAndASecondClaimAreEachRefusedAndSaid() async throws {
        let s = try Setup(names: ["web-f1", "web-f9"])
        defer { s.dir.remove() }
        let (runner, port) = try await s.sender(
            "pipeline \"p\" { source = \"src\", to = { \"dial://web-f1/fpm\" }, delay = 0.05 }")
        defer { runner.signal(SIGTERM) }
        // A wrong secret: the sender's proof fails at the receiver, which hangs up unanswered.
        try s.receiver("wrong.lua", port: port, modules: [("web-f1", "fpm", "")])
        try s.secretFile("web-f1", "not-the-secret")
        let wrong = try await RunnerProcess.run(
            ["pull", s.dir.at("wrong.lua"), "--module", "fpm", "--once"], logDirectory: s.dir.path)
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("did not prove the secret of 'web-f1'"), "\(wrong.stderr)")
        #expect(await runner.waitForLog("wrong secret for 'web-f1'"), "\(runner.stderr)")

        // An unknown name: no pipeline lists it.
        try s.receiver("unknown.lua", port: port, modules: [("web-f9", "fpm", "")])
        let unknown = try await RunnerProcess.run(
            ["pull", s.dir.at("unknown.lua"), "--module", "fpm", "--once"], logDirectory: s.dir.path)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("the sender refused 'web-f9': access denied"), "\(unknown.stderr)")
        #expect(await runner.waitForLog("no pipeline lists dial://web-f9/fpm"), "\(runner.stderr)")

        // The right secret, connected for good; then a second claim of the name while it is.
        try s.secretFile("web-f1", "secret-of-web-f1")
        try s.receiver("first.lua", port: port, modules: [("web-f1", "fpm", "")])
        let first = try RunnerProcess(["serve", s.dir.at("first.lua")], logDirectory: s.dir.path)
        defer { first.signal(SIGTERM) }
        #expect(await eventually(timeout: 10) { s.content("web-f1") != nil }, "\(runner.stderr)")
        let second = try await RunnerProcess.run(
            ["pull", s.dir.at("first.lua"), "--module", "fpm", "--once"], logDirectory: s.dir.path)
        #expect(second.status == 1)
        #expect(second.stderr.contains("dial://web-f1/fpm is connected already"), "\(second.stderr)")
        #expect(await runner.waitForLog("dial://web-f1/fpm is connected already"), "\(runner.stderr)")
    }

    @Test func pullOnceExitsAtTheApprovedRevisionOrWithTheReason() async throws {
        let s = try Setup(names: ["web-f1"])
        defer { s.dir.remove() }
        try s.dir.write("src/www.conf", "[www]\n")
        let (runner, port) = try await s.sender(
            "pipeline \"p\" { source = \"src\", to = { \"dial://web-f1/fpm\" }, delay = 0.05, delete = true }")
        defer { runner.signal(SIGTERM) }
        let check =
            "on_sync = { { kind = \"exec\", argv = { \"sh\", \"-c\", \"! grep -rqs broken \\\"$RUNNER_MODULE_PATH\\\"\" }, validate = true } },"
        try s.receiver("r.lua", port: port, modules: [("web-f1", "fpm", check)])
        let pull = {
            try await RunnerProcess.run(
                ["pull", s.dir.at("r.lua"), "--module", "fpm", "--once"], logDirectory: s.dir.path)
        }
        let first = try await pull()
        #expect(first.status == 0, "\(first.stderr)\n\(runner.stderr)")
        #expect(s.content("web-f1") == "[www]\n")
        try s.dir.write("src/www.conf", "[www]\nlisten = 9000\n")
        #expect(await runner.waitForLog("revision 2 cut"), "\(runner.stderr)")
        let second = try await pull()
        #expect(second.status == 0, "\(second.stderr)")
        #expect(s.content("web-f1") == "[www]\nlisten = 9000\n")
        // A revision the module's check refuses: rolled back, and the pull says why.
        try s.dir.write("src/www.conf", "[www]\nbroken\n")
        #expect(await runner.waitForLog("revision 3 cut"), "\(runner.stderr)")
        let refused = try await pull()
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("revision 3 did not apply"), "\(refused.stderr)")
        #expect(s.content("web-f1") == "[www]\nlisten = 9000\n")
    }

    /// A sender started without `dial://` targets listens once a reload adds one; a reload
    /// that moves the address it listens on is refused, and the running script stays.
    @Test func aReloadThatAddsTheFirstDialTargetListens() async throws {
        let s = try Setup(names: ["web-f1"])
        defer { s.dir.remove() }
        try s.dir.write("src/www.conf", "[www]\n")
        let script = { (listen: String, to: String) in
            try s.dir.write(
                "p.lua",
                """
                settings { state_dir = "state", listen = "\(listen)", dial_secrets = "dial.secrets" }
                pipeline "p" { source = "src", to = { \(to) }, delay = 0.05, delete = true }
                """)
        }
        try script("127.0.0.1:0", "\"file://\(s.dir.at("local"))\"")
        let runner = try RunnerProcess(["run", s.dir.at("p.lua")], logDirectory: s.dir.path)
        defer { runner.signal(SIGTERM) }
        #expect(await runner.waitForLog("ready"), "\(runner.stderr)")
        #expect(!runner.stderr.contains("listening for dial-in"))

        try script("127.0.0.1:0", "\"file://\(s.dir.at("local"))\", \"dial://web-f1/fpm\"")
        runner.signal(SIGHUP)
        #expect(await runner.waitForLog("listening for dial-in receivers on 127.0.0.1:"), "\(runner.stderr)")
        let line = runner.stderr.split(separator: "\n").first { $0.contains("listening for dial-in") } ?? ""
        let port = Int(line.split(separator: ":").last ?? "") ?? 0
        try s.receiver("r.lua", port: port, modules: [("web-f1", "fpm", "")])
        let pull = try await RunnerProcess.run(
            ["pull", s.dir.at("r.lua"), "--module", "fpm", "--once"], logDirectory: s.dir.path)
        #expect(pull.status == 0, "\(pull.stderr)\n\(runner.stderr)")
        #expect(s.content("web-f1") == "[www]\n")

        try script("127.0.0.2:0", "\"dial://web-f1/fpm\"")
        runner.signal(SIGHUP)
        #expect(await runner.waitForLog("reload failed"), "\(runner.stderr)")
        #expect(runner.stderr.contains("dial-ins are taken on 127.0.0.1:\(port)"), "\(runner.stderr)")
    }
}
