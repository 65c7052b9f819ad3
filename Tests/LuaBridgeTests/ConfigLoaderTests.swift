import Foundation
import Logging
import LuaBridge
import Pipeline
import TestSupport
import Testing

/// The DSL: what loads, and a clear error with file and line for each mistake.
@Suite struct ConfigLoaderTests {
    static let plugins = RunnerProcess.packageRoot + "/plugins"

    func load(_ lua: String, in dir: TemporaryDirectory) throws -> Configuration {
        let file = try dir.write("pipeline.lua", lua)
        let loader = ConfigLoader(
            file: file, logger: Logger(label: "test"), pluginDirectories: [dir.path, Self.plugins])
        return try loader.load().0
    }

    /// Loads and returns the error, which must be a ConfigError.
    func failure(_ lua: String) throws -> ConfigError {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
        do {
            _ = try load(lua, in: dir)
        } catch let error as ConfigError {
            return error
        }
        Issue.record("loaded without error")
        return ConfigError("none")
    }

    /// DESIGN.md's pipeline, less what this engine does not implement yet (`rollout`,
    /// `status`): those are refused, never accepted and ignored.
    @Test func theDesignExampleLoads() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
        let config = try load(
            """
            local tempfiles = require "tempfiles"
            settings { log = "info" }
            group "functional" { "runner://10.0.0.11:8730/fpm", "runner://10.0.0.12:8730/fpm" }
            group "regression" { "ssh://deploy@10.0.1.21/fpm" }
            group "local"      { "file:///srv/mirror/fpm.d" }
            pipeline "php-env" {
              source = "src",
              ignore = { tempfiles.all, "*.bak", "/drafts/" , function(path) return path:find("~$") end },
              delay  = 0.2,
              to     = { "functional", "regression" },
              auth   = { user = "sync", secret_file = "/etc/runner/sync.secret" },
              delete = true,
              check  = function(batch) return true end,
              after  = function(host, result) end,
            }
            """, in: dir)
        #expect(config.groups.map(\.name) == ["functional", "regression", "local"])
        let p = try #require(config.pipelines.first)
        #expect(p.source == dir.at("src"))
        #expect(
            p.destinations.map(\.uri.description) == [
                "runner://10.0.0.11:8730/fpm", "runner://10.0.0.12:8730/fpm", "ssh://deploy@10.0.1.21/fpm",
            ])
        #expect(p.delete && p.hasCheck && p.hasAfter)
        #expect(p.auth == .init(user: "sync", secretFile: "/etc/runner/sync.secret"))
        #expect(p.ignore.contains { $0.ruleSet == "tempfiles.rsync" })
        #expect(p.ignore.last?.text == "function")
    }

    @Test func serviceSettingsLoadAndABarePortIsLoopbacks() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let config = try load(
            """
            settings { status = "9873", metrics_file = "runner.prom", behind_limit = 60, stop_timeout = 3 }
            """, in: dir)
        #expect(config.settings.status == "127.0.0.1:9873")
        #expect(config.settings.metricsFile == dir.at("runner.prom"))
        #expect(config.settings.behindLimit == 60 && config.settings.stopTimeout == 3)
    }

    @Test func aStatusAddressThatIsNotHostAndPortIsRefusedWithItsLine() throws {
        let error = try failure(
            "pipeline \"p\" { source = \"src\", to = { \"file:///x\" } }\nsettings { status = \"localhost:http\" }")
        #expect(error.message.contains("'status' must be host:port"), "\(error)")
        #expect(error.location?.line == 2, "\(error)")
    }

    @Test func theReceiverExampleLoads() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let config = try load(
            """
            settings { listen = "0.0.0.0:8730", max_connections = 50 }
            module "fpm" {
              path        = "/usr/local/webserver/php/etc/fpm.d",
              auth_users  = { "sync" },
              secrets     = "/etc/runner/receiver.secrets",
              hosts_allow = { "10.0.0.0/8", "127.0.0.1" },
              read_only   = false,
              on_sync     = { { kind = "phpfpm.reload", service = "php8.2-fpm" }, function() end },
            }
            """, in: dir)
        let m = try #require(config.modules.first)
        #expect(m.authUsers == ["sync"] && m.hostsAllow.map(\.text) == ["10.0.0.0/8", "127.0.0.1"])
        #expect(m.onSync.first == .spec(kind: "phpfpm.reload", parameters: ["service": .text("php8.2-fpm")]))
        #expect(m.onSync.last == .function(index: 0, .init(file: dir.at("pipeline.lua"), line: 8)))
        #expect(config.settings.maxConnections == 50)
    }

    @Test func theSamplesLoad() throws {
        let file = RunnerProcess.packageRoot + "/samples/local.lua"
        let loader = ConfigLoader(
            file: file, logger: Logger(label: "test"),
            pluginDirectories: [RunnerProcess.packageRoot + "/samples", Self.plugins])
        let config = try loader.load().0
        #expect(config.pipelines.map(\.name) == ["php-env"])
    }

    @Test func unknownKeyNamesItsLineAndSuggests() throws {
        let e = try failure(
            """
            pipeline "p" {
              source = "src",
              to = "file:///tmp/x",
              dealy = 0.5,
            }
            """)
        #expect(e.message.contains("unknown key 'dealy'"))
        #expect(e.location?.line == 4)
        #expect(e.hint == "did you mean 'delay'?")
    }

    @Test func wrongTypeSaysWhatWasExpected() throws {
        let e = try failure("pipeline \"p\" {\n  source = \"src\", to = \"file:///tmp/x\",\n  delay = \"fast\",\n}\n")
        #expect(e.message.contains("'delay' must be a number, got string"))
        #expect(e.location?.line == 3)
    }

    @Test func missingSource() throws {
        let e = try failure("\n\npipeline \"p\" { to = \"file:///tmp/x\" }\n")
        #expect(e.message.contains("'source' is missing"))
        #expect(e.location?.line == 3)
    }

    @Test func sourceMustBeADirectoryOrAFile() throws {
        let e = try failure("pipeline \"p\" { source = \"nope\", to = \"file:///tmp/x\" }")
        #expect(e.message.contains("does not exist"))
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        mkfifo(dir.at("fifo"), 0o600)
        do {
            _ = try load("pipeline \"p\" { source = \"fifo\", to = \"file:///tmp/x\" }", in: dir)
            Issue.record("a FIFO was accepted as source")
        } catch let error as ConfigError {
            #expect(error.message.contains("neither a directory nor a regular file"))
        }
        // A single file: its directory is watched, and only the file is synced.
        try dir.write("sub/www.conf", "x")
        let single = try load("pipeline \"p\" { source = \"sub/www.conf\", to = \"file:///tmp/x\" }", in: dir)
        #expect(single.pipelines.first?.source == dir.at("sub"))
        #expect(single.pipelines.first?.sourceFile == "www.conf")
    }

    @Test func undefinedGroupSuggestsTheClosestOne() throws {
        let e = try failure(
            """
            group "functional" { "file:///tmp/f" }
            pipeline "p" {
              source = "src",
              to = { "fucntional" },
            }
            """)
        #expect(e.message.contains("undefined group 'fucntional'"))
        #expect(e.location?.line == 4)
        #expect(e.hint == "did you mean 'functional'?")
    }

    @Test(
        arguments: [
            (
                "approve = { \"regresion\" }", "'approve' names 'regresion', a group it does not send to",
                "did you mean 'regression'?"
            ),
            ("guard = { max_deleted = \"120%\" }", "guard.max_deleted must be a count or a percentage", nil),
            ("guard = { max_removed = 3 }", "max_removed", nil),
            ("guard = {}", "'guard' sets neither max_deleted nor max_changed", nil),
            ("notify = { webhook = \"https://hooks.example/x\" }", "no https", nil),
            ("notify = { webhook = \"http://127.0.0.1:9/x\", on = { \"aplied\" } }", "unknown event 'aplied'", nil),
        ] as [(String, String, String?)])
    func operatorKeyMistakesNameTheirLine(key: String, message: String, hint: String?) throws {
        let e = try failure(
            """
            group "regression" { "file:///tmp/r" }
            pipeline "p" {
              source = "src", to = { "regression" },
              \(key),
            }
            """)
        #expect(e.message.contains(message), "\(e)")
        #expect(e.location?.line == 4, "\(e)")
        if let hint { #expect(e.hint == hint) }
    }

    @Test func approvalsGuardAndNotifyLoad() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
        let config = try load(
            """
            group "functional" { "file:///tmp/f" }
            group "regression" { "file:///tmp/r", approve = true }
            pipeline "p" { source = "src", to = { "functional", "regression" }, guard = { max_deleted = 20, max_changed = "50%" },
                           notify = { webhook = "http://127.0.0.1:8080/hook", on = { "held" } } }
            """, in: dir)
        let p = try #require(config.pipelines.first)
        #expect(p.approve == ["regression"])
        #expect(p.massChangeGuard == MassChangeGuard(maxDeleted: .count(20), maxChanged: .percent(50)))
        #expect(p.notify == NotifySettings(webhook: "http://127.0.0.1:8080/hook", on: [.held]))
    }

    @Test func invalidTargetURINamesTheLine() throws {
        let e = try failure("group \"g\" {\n  \"runner://host:70000/fpm\",\n}\n")
        #expect(e.message.contains("not 1-65535"))
        #expect(e.location?.line == 2)
    }

    @Test func duplicateNamesPointAtBoth() throws {
        let e = try failure("group \"g\" { \"file:///tmp/a\" }\ngroup \"g\" { \"file:///tmp/b\" }\n")
        #expect(e.message.contains("declared twice"))
        #expect(e.message.contains(":1)"))
        #expect(e.location?.line == 2)
        let p = try failure(
            """
            pipeline "p" { source = "src", to = "file:///tmp/a" }
            pipeline "p" { source = "src", to = "file:///tmp/b" }
            """)
        #expect(p.message.contains("pipeline 'p' is declared twice"))
    }

    @Test func aDeclarationWithoutBodyIsCaught() throws {
        let e = try failure("local g = group \"forgotten\"\n")
        #expect(e.message.contains("has no { ... } body"))
    }

    @Test func luaTypoGivesFileAndLine() throws {
        let e = try failure("settings { log = \"info\" }\npipline \"p\" { }\n")
        #expect(e.location?.line == 2)
        #expect(e.message.contains("pipline"))
    }

    @Test func aScriptThatNeverEndsIsAConfigurationErrorWithItsFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try dir.write("pipeline.lua", "settings { log = \"info\" }\nwhile true do end\n")
        let loader = ConfigLoader(file: file, logger: Logger(label: "test"), pluginDirectories: [])
        loader.timeout = 0.2
        #expect { try loader.load() } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.message.contains("still ran after 0.2s") && error.location?.file == file
        }
    }

    @Test func badIgnoreEntries() throws {
        let e = try failure("pipeline \"p\" { source = \"src\", to = \"file:///tmp/x\", ignore = { 42 } }")
        #expect(e.message.contains("an ignore rule must be"))
        let empty = try failure("pipeline \"p\" { source = \"src\", to = \"file:///tmp/x\", ignore = { \"\" } }")
        #expect(empty.message.contains("empty ignore pattern"))
    }

    @Test func predicatesAndHooksAreCalledThroughTheBridge() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
        let file = try dir.write(
            "pipeline.lua",
            """
            seen = {}
            pipeline "p" {
              source = "src", to = "file:///tmp/x",
              ignore = { function(path, is_dir) return path:find("~$") or is_dir end },
              check = function(batch) if #batch.paths > 1 then return false, "too many" end end,
              after = function(host, result) seen[#seen + 1] = host .. ":" .. result.status end,
            }
            """)
        let loader = ConfigLoader(file: file, logger: Logger(label: "test"), pluginDirectories: [dir.path])
        let (config, hooks) = try loader.load()
        #expect(try hooks.ignores(pipeline: "p", predicate: 0, path: "a~", isDirectory: false))
        #expect(try !hooks.ignores(pipeline: "p", predicate: 0, path: "a", isDirectory: false))
        #expect(try hooks.ignores(pipeline: "p", predicate: 0, path: "d", isDirectory: true))
        try dir.write("src/a", "")
        try dir.write("src/b", "")
        #expect(try hooks.check(pipeline: "p", batch: ChangeBatch(changes: ["a": .written, "gone": .deleted])) == nil)
        #expect(try hooks.check(pipeline: "p", batch: ChangeBatch(paths: ["a", "b"])) == "too many")
        try hooks.after(pipeline: "p", target: "file:///tmp/x", result: TargetResult(status: .applied))
        #expect(try loader.state.run("return seen[1]").first?.stringValue == "file:///tmp/x:applied")
        #expect(config.pipelines.first?.ignore.first?.location?.line == 4)
    }
}
