import Foundation
import TestSupport
import Testing

/// Per-group values: two groups of two hosts (two `runner serve` daemons, a module per
/// group in each) get the same template with their own values; other files arrive byte
/// for byte; an undefined value refuses the batch for its group, named, and nothing moves.
@Suite struct RenderTests {
    struct Setup {
        let dir: TemporaryDirectory
        var daemons: [ServeProcess] = []

        init() async throws {
            dir = try TemporaryDirectory()
            for d in 0..<2 {
                for g in ["f", "r"] {
                    try FileManager.default.createDirectory(
                        atPath: dir.at("host\(d)/\(g)"), withIntermediateDirectories: true)
                }
                try dir.write(
                    "receiver\(d).lua",
                    """
                    settings { listen = "127.0.0.1:0" }
                    module "f" { path = "host\(d)/f" }
                    module "r" { path = "host\(d)/r" }
                    """)
                daemons.append(try await ServeProcess(script: dir.at("receiver\(d).lua"), logDirectory: dir.path))
            }
            let (p0, p1) = (daemons[0].port, daemons[1].port)
            try dir.write(
                "p.lua",
                """
                settings { state_dir = "state" }
                group "functional" { "runner://127.0.0.1:\(p0)/f", "runner://127.0.0.1:\(p1)/f",
                                     vars = { APP_MODE = "functional", DB = "db-functional.internal" } }
                group "regression" { "runner://127.0.0.1:\(p0)/r", "runner://127.0.0.1:\(p1)/r",
                                     vars = { APP_MODE = "regression", DB = "db-regression.internal" } }
                host "runner://127.0.0.1:\(p1)/f" { vars = { DB = "db-f2.internal" } }
                pipeline "php-env" { source = "src", to = { "functional", "regression" }, render = { "*.conf" }, delete = true }
                """)
            try dir.write(
                "src/pool.d/www.conf", "[www]\nenv[APP_MODE] = {{ APP_MODE }}\nenv[DB] = {{DB}}\n; {{ group }}\n")
            try dir.write("src/static.txt", "{{ left alone }}\n")
        }

        func file(_ host: Int, _ group: String, _ path: String) -> String? {
            try? String(contentsOfFile: dir.at("host\(host)/\(group)/\(path)"), encoding: .utf8)
        }

        func once() async throws -> (status: Int32, stdout: String, stderr: String) {
            try await RunnerProcess.run(["run", dir.at("p.lua"), "--once"], logDirectory: dir.path)
        }

        func stop() async { for d in daemons { _ = await d.stop() } }
    }

    @Test func eachGroupGetsItsOwnValuesAndAnUndefinedOneIsRefused() async throws {
        var s = try await Setup()
        defer { s.dir.remove() }
        let r = try await s.once()
        #expect(r.status == 0, "\(r.stderr)")
        #expect(
            s.file(0, "f", "pool.d/www.conf")
                == "[www]\nenv[APP_MODE] = functional\nenv[DB] = db-functional.internal\n; functional\n")
        #expect(
            s.file(1, "f", "pool.d/www.conf")
                == "[www]\nenv[APP_MODE] = functional\nenv[DB] = db-f2.internal\n; functional\n")
        for h in 0..<2 {
            #expect(
                s.file(h, "r", "pool.d/www.conf")
                    == "[www]\nenv[APP_MODE] = regression\nenv[DB] = db-regression.internal\n; regression\n")
            #expect(s.file(h, "f", "static.txt") == "{{ left alone }}\n")
        }
        let rendered = try await RunnerProcess.run(
            ["render", s.dir.at("p.lua"), "pool.d/www.conf", "--group", "regression"],
            logDirectory: s.dir.path)
        #expect(
            rendered.stdout == "[www]\nenv[APP_MODE] = regression\nenv[DB] = db-regression.internal\n; regression\n",
            "\(rendered.stderr)")

        // A value the regression group lacks: refused there, named; both groups keep what they had.
        let before = (0..<2).map { h in ["f", "r"].map { s.file(h, $0, "pool.d/www.conf") } }
        try s.dir.write(
            "p.lua",
            try String(contentsOfFile: s.dir.at("p.lua"), encoding: .utf8)
                .replacingOccurrences(
                    of: "APP_MODE = \"functional\",", with: "APP_MODE = \"functional\", ONLY_F = \"x\","))
        try s.dir.write("src/pool.d/www.conf", "[www]\nenv[APP_MODE] = {{ APP_MODE }}\nenv[X] = {{ ONLY_F }}\n")
        let refused = try await s.once()
        #expect(refused.status == 1)
        #expect(
            refused.stderr.contains(
                "group regression: revision 2 refused for runner://127.0.0.1:\(s.daemons[0].port)/r: pool.d/www.conf:3: undefined variable 'ONLY_F'"
            ),
            "\(refused.stderr)")
        #expect((0..<2).map { h in s.file(h, "r", "pool.d/www.conf") } == before.map { $0[1] })
        #expect(s.file(0, "f", "pool.d/www.conf") == "[www]\nenv[APP_MODE] = functional\nenv[X] = x\n")
        let check = try await RunnerProcess.run(["check", s.dir.at("p.lua")], logDirectory: s.dir.path)
        #expect(check.status == 2 && check.stderr.contains("undefined variable 'ONLY_F'"), "\(check.stderr)")
        await s.stop()
        s.daemons = []
    }

    @Test func dryRunShowsPerGroupTheDiffAgainstWhatEachHostHas() async throws {
        var s = try await Setup()
        defer { s.dir.remove() }
        #expect(try await s.once().status == 0)
        try s.dir.write(
            "src/pool.d/www.conf", "[www]\nenv[APP_MODE] = {{ APP_MODE }}\nenv[DB] = {{DB}}:5432\n; {{ group }}\n")
        let r = try await RunnerProcess.run(
            ["run", s.dir.at("p.lua"), "--once", "--dry-run"], logDirectory: s.dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        let (p0, p1) = (s.daemons[0].port, s.daemons[1].port)
        // The regression hosts share one diff; the functional ones differ by their DB.
        #expect(
            r.stdout.contains(
                """
                  pool.d/www.conf for group regression (runner://127.0.0.1:\(p0)/r, runner://127.0.0.1:\(p1)/r):
                    --- pool.d/www.conf (on the host)
                    +++ pool.d/www.conf (rendered)
                    @@ -1,4 +1,4 @@
                     [www]
                     env[APP_MODE] = regression
                    -env[DB] = db-regression.internal
                    +env[DB] = db-regression.internal:5432
                     ; regression
                """), "\(r.stdout)")
        #expect(r.stdout.contains("+env[DB] = db-functional.internal:5432\n"), "\(r.stdout)")
        #expect(r.stdout.contains("+env[DB] = db-f2.internal:5432\n"), "\(r.stdout)")
        #expect(!r.stdout.contains("static.txt for"), "\(r.stdout)")
        #expect(
            s.file(1, "f", "pool.d/www.conf")
                == "[www]\nenv[APP_MODE] = functional\nenv[DB] = db-f2.internal\n; functional\n")
        await s.stop()
        s.daemons = []
    }
}
