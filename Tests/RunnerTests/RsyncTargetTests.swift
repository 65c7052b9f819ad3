import Foundation
import TestSupport
import Testing

/// rsync:// targets against a real `rsync --daemon` on 127.0.0.1, configured as the seed's
/// fleet (module, auth users, a secrets file, hosts allow): a fleet that runs only rsyncd.
@Suite struct RsyncTargetTests {
    struct Setup {
        let dir: TemporaryDirectory
        let daemon: TestRsyncDaemon
        var module: String { dir.at("module") }

        init() async throws {
            dir = try TemporaryDirectory()
            for d in ["src", "module"] {
                try FileManager.default.createDirectory(atPath: dir.at(d), withIntermediateDirectories: true)
            }
            daemon = try await TestRsyncDaemon(directory: dir.path, module: dir.at("module"))
            try dir.write("sync.secret", "s3cret\n")
            chmod(dir.at("sync.secret"), 0o600)
        }

        func pipeline(secret: String = "sync.secret") throws -> String {
            try dir.write(
                "p.lua",
                """
                local tempfiles = require "tempfiles"
                pipeline "legacy" {
                  source = "src", to = { "rsync://127.0.0.1:\(daemon.port)/php_env" }, delete = true, delay = 0.05,
                  ignore = { tempfiles.all }, auth = { user = "sync", secret_file = "\(secret)" },
                }
                """)
        }

        func arrived(_ path: String, _ content: String) -> Bool {
            (try? String(contentsOfFile: dir.at("module/" + path), encoding: .utf8)) == content
        }
    }

    @Test func onceSyncsTheTreeDeletesWhatIsGoneAndLeavesIgnoredFilesAlone() async throws {
        let s = try await Setup()
        defer { s.dir.remove() }
        try s.dir.write("src/www.conf", "[www]\n")
        try s.dir.write("src/pool/api.conf", "[api]\n")
        try s.dir.write("src/.www.conf.swp", "vim\n")
        try s.dir.write("src/#notes", "a name rsync would take for a comment\n")
        try s.dir.write("module/stale.conf", "old\n")
        try s.dir.write("module/old/deep/x.conf", "old\n")
        try s.dir.write("module/.keep.swp", "the receiver's own, ignored\n")
        let r = try await RunnerProcess.run(["run", "--once", try s.pipeline()], logDirectory: s.dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(s.arrived("www.conf", "[www]\n") && s.arrived("pool/api.conf", "[api]\n"))
        #expect(s.arrived("#notes", "a name rsync would take for a comment\n"))
        let fm = FileManager.default
        #expect(!fm.fileExists(atPath: s.dir.at("module/.www.conf.swp")), "an ignored file was sent")
        #expect(fm.fileExists(atPath: s.dir.at("module/.keep.swp")), "an ignored file was deleted")
        #expect(!fm.fileExists(atPath: s.dir.at("module/stale.conf")) && !fm.fileExists(atPath: s.dir.at("module/old")))
    }

    @Test func liveSameSizeRewritesInTheSameSecondAndReplacesByRenameArrive() async throws {
        let s = try await Setup()
        defer { s.dir.remove() }
        try s.dir.write("src/www.conf", "env[APP_MODE] = functional\n")
        let runner = try RunnerProcess(["run", try s.pipeline()], logDirectory: s.dir.path)
        #expect(await runner.waitForLog("ready"), "\(runner.stderr)")
        #expect(await eventually { s.arrived("www.conf", "env[APP_MODE] = functional\n") }, "\(runner.stderr)")
        // sed -i: a replace by rename, same size, very likely the same second.
        #expect(try sh("sed -i 's/functional/regression/' src/www.conf", in: s.dir.path).status == 0)
        #expect(await eventually { s.arrived("www.conf", "env[APP_MODE] = regression\n") }, "\(runner.stderr)")
        // Ten same-size rewrites in a row, in place: each arrives.
        for i in 0..<10 {
            try s.dir.write("src/www.conf", "env[APP_MODE] = version\(i)\n")
            #expect(await eventually { s.arrived("www.conf", "env[APP_MODE] = version\(i)\n") }, "rewrite \(i)")
        }
        // Replace by rename from a temp file: nothing but the file at the daemon.
        try s.dir.write("src/.api.conf.tmp", "[api]\n")
        try FileManager.default.moveItem(atPath: s.dir.at("src/.api.conf.tmp"), toPath: s.dir.at("src/api.conf"))
        #expect(await eventually { s.arrived("api.conf", "[api]\n") })
        let names = try FileManager.default.contentsOfDirectory(atPath: s.module).sorted()
        #expect(names == ["api.conf", "www.conf"], "\(names)")
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit() == 0)
    }

    @Test func aWrongPasswordSaysAuthenticationAndNamesBothSecretFormats() async throws {
        let s = try await Setup()
        defer { s.dir.remove() }
        try s.dir.write("src/www.conf", "[www]\n")
        try s.dir.write("wrong.secret", "guess\n")
        chmod(s.dir.at("wrong.secret"), 0o600)
        let r = try await RunnerProcess.run(
            ["run", "--once", try s.pipeline(secret: "wrong.secret")], logDirectory: s.dir.path)
        #expect(r.status == 1)
        #expect(r.stderr.contains("authentication failed (rsync: auth failed on module php_env)"), "\(r.stderr)")
        #expect(r.stderr.contains("user:secret lines") && r.stderr.contains("holds only the secret"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: s.dir.at("module/www.conf")))
    }

    @Test func aTemplateArrivesRenderedWithItsGroupsValues() async throws {
        let s = try await Setup()
        defer { s.dir.remove() }
        try s.dir.write("src/www.conf", "env[APP_MODE] = {{ APP_MODE }}\n")
        try s.dir.write("src/plain.txt", "{{ left alone }}\n")
        let script = try s.dir.write(
            "p.lua",
            """
            group "legacy" { "rsync://127.0.0.1:\(s.daemon.port)/php_env", vars = { APP_MODE = "regression" } }
            pipeline "p" {
              source = "src", to = { "legacy" }, render = { "*.conf" },
              auth = { user = "sync", secret_file = "sync.secret" },
            }
            """)
        let r = try await RunnerProcess.run(["run", "--once", script], logDirectory: s.dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(s.arrived("www.conf", "env[APP_MODE] = regression\n"))
        #expect(s.arrived("plain.txt", "{{ left alone }}\n"))
        let check = try await RunnerProcess.run(["check", script], logDirectory: s.dir.path)
        #expect(check.status == 0 && check.stdout.contains("run no actions after a batch"), "\(check)")
    }
}
