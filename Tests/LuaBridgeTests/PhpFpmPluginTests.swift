import Foundation
import Logging
import LuaBridge
import Pipeline
import TestSupport
import Testing

/// plugins/phpfpm.lua: Debian presets, explicit keys win, mistakes are errors with a line.
@Suite struct PhpFpmPluginTests {
    static func load(_ onSync: String) throws -> ReceiverModule {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try dir.write(
            "r.lua",
            """
            local phpfpm = require "phpfpm"
            module "fpm" { path = "/tmp", on_sync = { \(onSync) } }
            """)
        let loader = ConfigLoader(
            file: file, logger: Logger(label: "test"), pluginDirectories: [RunnerProcess.packageRoot + "/plugins"])
        return try loader.load().0.modules[0]
    }

    @Test func serviceFillsInDebiansPathsAndExplicitKeysWin() throws {
        let m = try Self.load(
            #"phpfpm.reload { service = "php8.2-fpm", pidfile = "/run/custom.pid", args = { "-R" } }"#)
        guard case .spec(let kind, let p) = try #require(m.onSync.first) else { Issue.record("not a spec"); return }
        #expect(kind == "phpfpm.reload")
        #expect(p["binary"] == .text("/usr/sbin/php-fpm8.2"))
        #expect(p["config"] == .text("/etc/php/8.2/fpm/php-fpm.conf"))
        #expect(p["pidfile"] == .text("/run/custom.pid"))
        #expect(p["args"] == .list(["-R"]))
        #expect(try ServedModule(m, hooks: nil).actionLines == ["php-fpm reload (rolls the batch back on failure)"])
    }

    @Test(arguments: [
        (#"phpfpm.reload { service = "nginx" }"#, "not a Debian php-fpm service"),
        (#"phpfpm.reload { pidfle = "/x" }"#, "unknown key 'pidfle' (did you mean 'pidfile'?)"),
        (#"phpfpm.reload { service = "php8.2-fpm", timeout = "soon" }"#, "'timeout' must be a number"),
        (#"phpfpm.reload { }"#, "set pidfile"),
    ])
    func mistakesAreErrorsWithTheLine(onSync: String, message: String) throws {
        #expect { try Self.load(onSync) } throws: { "\($0)".contains(message) && "\($0)".contains("r.lua:2") }
    }

    @Test func runnerExecAndSignalMakeActionsWithTheirKeysChecked() throws {
        let m = try Self.load(
            #"runner.exec { argv = { "php-fpm8.2", "-t" }, validate = true }, runner.signal { pidfile = "/run/x.pid" }"#
        )
        #expect(m.onSync.count == 2)
        #expect(
            m.onSync.first
                == .spec(kind: "exec", parameters: ["argv": .list(["php-fpm8.2", "-t"]), "validate": .flag(true)]))
        #expect { try Self.load(#"runner.exec { argv = { "true" }, validat = true }"#) } throws: {
            "\($0)".contains("r.lua:2")
                && "\($0)".contains("runner.exec: unknown key 'validat' (did you mean 'validate'?)")
        }
    }

    @Test func badNativeParametersNameTheModule() throws {
        let m = try Self.load(
            #"{ kind = "exec", argv = { "true" }, timout = 3 }, { kind = "signal", pidfile = "/x", signal = "BOGUS" }"#)
        #expect { try ServedModule(m, hooks: nil).actionLines } throws: {
            "\($0)".contains("module 'fpm': on_sync exec: unknown key 'timout'")
        }
    }
}
