import Foundation
import TestSupport
import Testing

/// `runner check`, `runner explain` and exit codes, through the built binary.
@Suite struct CommandLineTests {
    static let samples = RunnerProcess.packageRoot + "/samples/local.lua"

    @Test func checkAcceptsTheSample() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let r = try await RunnerProcess.run(["check", Self.samples], logDirectory: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("pipeline 'php-env'"))
    }

    @Test func theSeedScenarioChecksAndRendersEachGroupsValues() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let sample = RunnerProcess.packageRoot + "/samples/php_env.lua"
        let check = try await RunnerProcess.run(["check", sample], logDirectory: dir.path)
        #expect(check.status == 0, "\(check.stderr)")
        for (group, mode) in [("functional", "functional"), ("regression", "regression")] {
            let r = try await RunnerProcess.run(
                ["render", sample, "www.conf", "--group", group], logDirectory: dir.path)
            #expect(r.status == 0 && r.stdout.contains("env[APP_MODE] = \(mode)\n"), "\(r.stdout)\(r.stderr)")
        }
    }

    @Test func explainNamesTheRsyncTempRule() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let r = try await RunnerProcess.run(
            ["explain", Self.samples, ".a.conf.Xy12Zq", "www.conf"], logDirectory: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix(".a.conf.Xy12Zq: ignored by tempfiles.rsync") == true, "\(r.stdout)")
        #expect(lines.first?.contains("plugins/tempfiles.lua:") == true)
        #expect(lines.last == "www.conf: included (no rule matches)")
    }

    @Test func luaTypoExitsTwoWithFileAndLine() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try dir.write("typo.lua", "settings { log = \"info\" }\npipline \"p\" { }\n")
        for command in ["check", "run"] {
            let r = try await RunnerProcess.run([command, file], logDirectory: dir.path)
            #expect(r.status == 2)
            #expect(r.stderr.contains("\(file):2:"), "\(r.stderr)")
            #expect(r.stderr.contains("did you mean 'pipeline'?"))
        }
    }

    @Test func checkRefusesAWorldReadableSecret() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
        try dir.write("sync.secret", "s3cret\n", mode: 0o644)
        let file = try dir.write(
            "p.lua",
            """
            pipeline "p" { source = "src", to = "file:///tmp/x", auth = { user = "sync", secret_file = "sync.secret" } }
            """)
        let r = try await RunnerProcess.run(["check", file], logDirectory: dir.path)
        #expect(r.status == 2)
        #expect(r.stderr.contains("chmod 600"), "\(r.stderr)")
    }

    @Test func usageErrorsExitSixtyFour() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let r = try await RunnerProcess.run(["run"], logDirectory: dir.path)
        #expect(r.status == 64)
    }

    @Test func anUnknownSubcommandIsNamedAsOne() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let r = try await RunnerProcess.run(["lgo", "p.lua", "--json"], logDirectory: dir.path)
        #expect(r.status == 64)
        #expect(r.stderr.contains("unknown subcommand 'lgo' (did you mean 'log'?)"), "\(r.stderr)")
        let help = try await RunnerProcess.run(["log", "--help"], logDirectory: dir.path)
        #expect(help.status == 0 && help.stdout.contains("--json"), "\(help.stdout)")
    }
}
