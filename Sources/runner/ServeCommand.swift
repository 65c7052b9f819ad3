#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import LuaBridge
import Logging
import Pipeline

extension Runner {
    /// `runner serve R.lua`: the receiver daemon.
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The receiver daemon: accept senders on the listen address and serve the script's modules.")

        @Argument(help: "The receiver script.")
        var script: String

        @OptionGroup var common: CommonOptions

        func run() throws {
            withExitCodes {
                var logger = makeLogger(common)
                let (_, configuration, _) = try loadConfiguration(script, logger: logger)
                if common.logLevel == nil, let level = Logger.Level(rawValue: configuration.settings.logLevel) { logger.logLevel = level }
                guard !configuration.modules.isEmpty else {
                    throw ConfigError("declares no module", at: SourceLocation(file: script, line: 0), hint: "add module \"name\" { path = ... }")
                }
                for m in configuration.modules { try ModuleCheck.verify(m) }
                let executable = String(cString: realpath("/proc/self/exe", nil))
                let script = self.script.hasPrefix("/") ? self.script : String(cString: getcwd(nil, 0)) + "/" + self.script
                let format = common.logFormat.rawValue
                let daemon = try ReceiverDaemon(listen: configuration.settings.listen, maxConnections: configuration.settings.maxConnections,
                                                logger: logger) { peer in
                    [executable, "receive", script, "--connection-from", peer, "--log-format", format]
                }
                let control = RunControl()
                let signals = trapSignals(control: control, logger: logger)
                defer { withExtendedLifetime(signals) {} }
                daemon.run(control: control)
                return 0
            }
        }
    }
}

/// Start-up checks of a receiver module: they name the file and the fix.
enum ModuleCheck {
    static func verify(_ m: ReceiverModule) throws {
        guard let info = FileInfo.lstat(m.path), info.kind == .directory || info.kind == .symlink else {
            throw ConfigError("module '\(m.name)': path \(m.path) is not a directory", at: m.location)
        }
        // Staging lives beside the module: it must be on the same file system, or the
        // commit's renames would fail (EXDEV) after the data was transferred.
        let parent = m.path.lastIndex(of: "/").map { String(m.path[..<$0]) }.flatMap { $0.isEmpty ? "/" : $0 } ?? "/"
        var a = stat(), b = stat()
        if stat(m.path, &a) == 0, stat(parent, &b) == 0, a.st_dev != b.st_dev {
            throw ConfigError("module '\(m.name)': \(m.path) is a mount point; batches are staged in \(parent), another file system",
                              at: m.location, hint: "serve a directory inside the mount, e.g. \(m.path)/data")
        }
        for rule in m.hostsAllow + m.hostsDeny { _ = try AddressRule(parsing: rule) }
        if let secrets = m.secrets {
            let users = try SecretsFile.readReceiverSecrets(secrets, at: m.location)
            for u in m.authUsers where users[u] == nil {
                throw ConfigError("module '\(m.name)': auth user '\(u)' has no line in \(secrets)", at: m.location,
                                  hint: "add a line \(u):<secret> to \(secrets)")
            }
        } else if !m.authUsers.isEmpty {
            throw ConfigError("module '\(m.name)': auth_users is set but secrets is not", at: m.location)
        }
    }
}
