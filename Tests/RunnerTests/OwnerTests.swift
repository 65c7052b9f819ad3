import Foundation
import TestSupport
import Testing

/// Owners as `rsync -a` run as root keeps them: by name, over runner://, ssh:// and file://,
/// mapped on the receiver, as numbers with `numeric_ids`, forced by a module, left alone by a
/// receiver that is not root, and put back by a rollback.
@Suite(.serialized) struct OwnerTests {
    /// Owner and mode of every entry below `root`, by path ("uid:gid mode").
    static func owners(_ root: String) -> [String: String] {
        var out: [String: String] = [:]
        for path in FileManager.default.subpaths(atPath: root) ?? [] {
            var st = stat()
            guard lstat(root + "/" + path, &st) == 0 else { continue }
            let mode = st.st_mode & S_IFMT == S_IFLNK ? "" : " " + String(st.st_mode & 0o7777, radix: 8)
            out[path] = "\(st.st_uid):\(st.st_gid)\(mode)"
        }
        return out
    }

    /// A source of files, a directory and a link owned by www-data, nobody and root:www-data,
    /// old enough for size and time to say they are unchanged (a recent one is resent).
    static func makeSource(_ dir: TemporaryDirectory) throws {
        try dir.write("src/www.conf", "[www]\n")
        try dir.write("src/app.env", "DB_PASSWORD=hunter2\n", mode: 0o640)
        try dir.write("src/n.conf", "n\n")
        try dir.write("src/d/x.conf", "x\n", mode: 0o600)
        let script = """
            chown www-data:www-data www.conf d && chown root:www-data app.env && chown nobody:nogroup n.conf d/x.conf \
            && ln -s www.conf link && chown -h nobody:nogroup link && find . -exec touch -h -d 2020-01-01 {} +
            """
        #expect(try sh(script, in: dir.at("src")).status == 0)
    }

    @Test func ownersTravelByNameOverEveryTransportAndARollbackPutsThemBack() async throws {
        let dir = try TemporaryDirectory()
        let sshd = try TestSSHD(directory: dir.at("sshd"))
        defer {
            sshd.stop()
            dir.remove()
        }
        try Self.makeSource(dir)
        try dir.write(
            "receiver.lua",
            """
            settings { listen = "127.0.0.1:0" }
            module "m" { path = "\(dir.at("m"))" }
            module "s" { path = "\(dir.at("s"))" }
            """)
        for d in ["m", "s", "f"] {
            try FileManager.default.createDirectory(atPath: dir.at(d), withIntermediateDirectories: true)
        }
        let daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path)
        defer { Task { _ = await daemon.stop() } }
        try dir.write(
            "p.lua",
            """
            settings { state_dir = "state" }
            group "all" { "runner://127.0.0.1:\(daemon.port)/m", "ssh://root@127.0.0.1:\(sshd.port)/s", "file://\(dir.at("f"))" }
            pipeline "owners" { source = "src", to = { "all" }, delay = 0.05, timeout = 5,
                                \(sshd.pipelineSSH(receiver: dir.at("receiver.lua"))) }
            """)
        let runner = try RunnerProcess(["run", dir.at("p.lua")], logDirectory: dir.path)
        defer { runner.signal(SIGKILL) }
        func everywhere() -> Bool {
            let source = Self.owners(dir.at("src"))
            return ["m", "s", "f"].allSatisfy { Self.owners(dir.at($0)) == source }
        }
        #expect(await runner.waitForLog("ready"), "\(runner.stderr)")
        #expect(
            await eventually(timeout: 20) { everywhere() }, "\(Self.owners(dir.at("src"))) \(Self.owners(dir.at("m")))")
        #expect(Self.owners(dir.at("m"))["app.env"] == "0:33 640")
        let first = Self.owners(dir.at("src"))

        // A change of owner alone travels as one.
        #expect(try sh("chown nobody:nogroup www.conf && chown -h www-data link", in: dir.at("src")).status == 0)
        #expect(await eventually(timeout: 20) { everywhere() }, "\(runner.stderr)")
        #expect(Self.owners(dir.at("s"))["www.conf"] == "65534:65534 644")
        let diff = try await RunnerProcess.run(
            ["diff", dir.at("p.lua"), "--group", "all", "1..2"], logDirectory: dir.path)
        #expect(diff.stdout.contains("www.conf: owner www-data:www-data -> nobody:nogroup\n"), "\(diff)")
        #expect(diff.stdout.contains("link: owner nobody:nogroup -> www-data:nogroup\n"), "\(diff)")

        let back = try await RunnerProcess.run(
            ["rollback", dir.at("p.lua"), "--group", "all", "--to", "1"], logDirectory: dir.path)
        #expect(back.status == 0, "\(back)")
        #expect(
            await eventually(timeout: 20) { ["m", "s", "f"].allSatisfy { Self.owners(dir.at($0)) == first } },
            "\(Self.owners(dir.at("f")))")
    }

    @Test func theReceiverMapsNamesToItsOwnIdsAndNumericIdsSendNumbers() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Self.makeSource(dir)
        #expect(try sh("chown 4242:4242 n.conf", in: dir.at("src")).status == 0)
        // The receiver's host calls uid and gid 4033 www-data: its own /etc/passwd and
        // /etc/group, bound over the real ones in a mount namespace of its own.
        let passwd = try String(contentsOfFile: "/etc/passwd", encoding: .utf8)
            .replacingOccurrences(of: "www-data:x:33:33:", with: "www-data:x:4033:4033:")
        let group = try String(contentsOfFile: "/etc/group", encoding: .utf8)
            .replacingOccurrences(of: "www-data:x:33:", with: "www-data:x:4033:")
        try dir.write("passwd", passwd)
        try dir.write("group", group)
        try dir.write(
            "receiver.lua",
            """
            settings { listen = "127.0.0.1:0" }
            module "named" { path = "\(dir.at("named"))" }
            module "numeric" { path = "\(dir.at("numeric"))" }
            """)
        for d in ["named", "numeric"] {
            try FileManager.default.createDirectory(atPath: dir.at(d), withIntermediateDirectories: true)
        }
        let launcher = [
            "/usr/bin/unshare", "-m", "/bin/sh", "-c",
            "mount --bind \(dir.at("passwd")) /etc/passwd && mount --bind \(dir.at("group")) /etc/group && exec \"$0\" \"$@\"",
        ]
        let daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path, launcher: launcher)
        defer { Task { _ = await daemon.stop() } }
        for (name, numeric) in [("named", false), ("numeric", true)] {
            try dir.write(
                "\(name).lua",
                """
                pipeline "\(name)" { source = "src", to = "runner://127.0.0.1:\(daemon.port)/\(name)", numeric_ids = \(numeric) }
                """)
            let run = try await RunnerProcess.run(["run", dir.at("\(name).lua"), "--once"], logDirectory: dir.path)
            #expect(run.status == 0, "\(run.stderr)")
        }
        let named = Self.owners(dir.at("named")), numeric = Self.owners(dir.at("numeric"))
        #expect(named["www.conf"] == "4033:4033 644" && named["d"] == "4033:4033 755", "\(named)")
        #expect(named["app.env"] == "0:4033 640" && named["n.conf"] == "4242:4242 644", "\(named)")
        #expect(named["d/x.conf"] == "65534:65534 600" && named["link"] == "65534:65534", "\(named)")
        #expect(numeric == Self.owners(dir.at("src")), "\(numeric)")

        // Mapped back the same way, the receiver's listing matches the source: a sender without
        // its state compares the whole module, and touches nothing (not even a status change).
        func changeTimes() -> [String: Int] {
            var out: [String: Int] = [:]
            for path in FileManager.default.subpaths(atPath: dir.at("named")) ?? [] {
                var st = stat()
                if lstat(dir.at("named/" + path), &st) == 0 {
                    out[path] = st.st_ctim.tv_sec * 1_000_000_000 + st.st_ctim.tv_nsec
                }
            }
            return out
        }
        let before = changeTimes()
        try FileManager.default.removeItem(atPath: dir.at("state"))
        let again = try await RunnerProcess.run(["run", dir.at("named.lua"), "--once"], logDirectory: dir.path)
        #expect(again.status == 0 && again.stderr.contains("resync"), "\(again.stderr)")
        #expect(changeTimes() == before, "\(again.stderr)")
    }

    @Test func aModuleForcesItsOwnerAndGroupAndAnUnknownOneIsAConfigError() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Self.makeSource(dir)
        try dir.write(
            "receiver.lua",
            """
            settings { listen = "127.0.0.1:0" }
            module "m" { path = "\(dir.at("m"))", owner = "root", group = "www-data" }
            """)
        try FileManager.default.createDirectory(atPath: dir.at("m"), withIntermediateDirectories: true)
        let daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path)
        defer { Task { _ = await daemon.stop() } }
        try dir.write("p.lua", "pipeline \"p\" { source = \"src\", to = \"runner://127.0.0.1:\(daemon.port)/m\" }\n")
        let run = try await RunnerProcess.run(["run", dir.at("p.lua"), "--once"], logDirectory: dir.path)
        #expect(run.status == 0, "\(run.stderr)")
        let got = Self.owners(dir.at("m"))
        #expect(got.count == 6 && got.values.allSatisfy { $0.hasPrefix("0:33") }, "\(got)")

        try dir.write("bad.lua", "module \"m\" {\n  path = \"\(dir.at("m"))\",\n  owner = \"no-such-user\",\n}\n")
        let check = try await RunnerProcess.run(["check", dir.at("bad.lua")], logDirectory: dir.path)
        #expect(check.status == 2, "\(check)")
        #expect(check.stderr.contains("bad.lua:3") && check.stderr.contains("owner 'no-such-user'"), "\(check.stderr)")
    }

    @Test func aReceiverNotRunningAsRootKeepsItsOwnIdsAndSaysSoOnce() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Self.makeSource(dir)
        // The module and the directory it is staged beside belong to nobody.
        try dir.write(
            "receiver.lua",
            "settings { listen = \"127.0.0.1:0\" }\nmodule \"m\" { path = \"\(dir.at("nb/m"))\" }\n")
        try FileManager.default.createDirectory(atPath: dir.at("nb/m"), withIntermediateDirectories: true)
        #expect(try sh("chmod 755 . && chown -R nobody:nogroup nb", in: dir.path).status == 0)
        let launcher = ["/usr/bin/setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]
        let daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path, launcher: launcher)
        defer { Task { _ = await daemon.stop() } }
        try dir.write("p.lua", "pipeline \"p\" { source = \"src\", to = \"runner://127.0.0.1:\(daemon.port)/m\" }\n")
        for _ in 0..<2 {
            let run = try await RunnerProcess.run(["run", dir.at("p.lua"), "--once"], logDirectory: dir.path)
            #expect(run.status == 0, "\(run.stderr)")
        }
        let got = Self.owners(dir.at("nb/m"))
        #expect(got.count == 6 && got.values.allSatisfy { $0.hasPrefix("65534:65534") }, "\(got)")
        let said = daemon.process.stderr.components(separatedBy: "not running as root").count - 1
        #expect(said == 1, "\(daemon.process.stderr)")
    }
}
