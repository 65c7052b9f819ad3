#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import LuaBridge
import Logging
import Pipeline
import RunnerSystem

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
                let served = try ServedConfiguration(script: script, logger: logger)
                let settings = served.configuration.settings
                if common.logLevel == nil, let level = Logger.Level(rawValue: settings.logLevel) { logger.logLevel = level }
                let control = RunControl(logger: logger)
                let daemon = try ReceiverDaemon(listen: settings.listen, maxConnections: settings.maxConnections, logger: logger)
                daemon.run(control: control, refresh: { forced in
                    served.refresh(force: forced, logger: logger)
                }, session: { connection, peer in
                    var logger = logger
                    logger[metadataKey: "peer"] = "\(peer)"
                    let settings = served.configuration.settings
                    let mode = ReceiverSession.Mode.daemon(peer: peer, handshakeTimeout: settings.handshakeTimeout,
                                                           idleTimeout: settings.idleTimeout)
                    do {
                        try ReceiverSession.serve(modules: served.configuration.modules, mode: mode, input: connection,
                                                  output: connection, logger: logger, actionHooks: served.hooks)
                        return 0
                    } catch {
                        return Exit.runtimeFailure
                    }
                })
                return 0
            }
        }
    }
}

/// The receiver script as the daemon serves it: loaded at start-up (a broken one is a
/// configuration error), and again on SIGHUP or when the file changed before a
/// connection (a broken one is then logged and the one in use goes on).
final class ServedConfiguration {
    private let script: String
    private var stamp: [Int]
    /// Kept alive with the configuration: the Lua functions it holds live in its state.
    private var loader: ConfigLoader
    private(set) var configuration: Configuration
    /// Runs the Lua functions of the modules' `on_sync`.
    private(set) var hooks: ActionHooks?

    init(script: String, logger: Logger) throws {
        self.script = script
        stamp = ServedConfiguration.stamp(of: script)
        (loader, configuration, hooks) = try ServedConfiguration.load(script, logger: logger)
    }

    func refresh(force: Bool, logger: Logger) {
        let now = ServedConfiguration.stamp(of: script)
        guard force || now != stamp else { return }
        stamp = now
        do {
            let (freshLoader, fresh, freshHooks) = try ServedConfiguration.load(script, logger: logger)
            if fresh.settings.listen != configuration.settings.listen || fresh.settings.maxConnections != configuration.settings.maxConnections {
                logger.warning("listen and max_connections changes apply at the next start")
            }
            (loader, configuration, hooks) = (freshLoader, fresh, freshHooks)
            logger.notice("reloaded \(script)")
        } catch {
            logger.error("reload refused, serving the previous configuration: \(error)")
        }
    }

    private static func load(_ script: String, logger: Logger) throws -> (ConfigLoader, Configuration, ActionHooks?) {
        let (loader, configuration, hooks) = try loadConfiguration(script, logger: logger)
        guard !configuration.modules.isEmpty else {
            throw ConfigError("declares no module", at: SourceLocation(file: script, line: 0), hint: "add module \"name\" { path = ... }")
        }
        for m in configuration.modules {
            try ModuleCheck.verify(m)
            for problem in try ModuleActions.problems(m) { logger.warning("\(problem)") }
        }
        return (loader, configuration, hooks as? ActionHooks)
    }

    /// Device, inode, size and modification time: a save by rename or in place both change it.
    private static func stamp(of path: String) -> [Int] {
        var st = stat()
        guard stat(path, &st) == 0 else { return [] }
        return [Int(st.st_dev), Int(st.st_ino), Int(st.st_size), st.st_mtim.tv_sec, st.st_mtim.tv_nsec]
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
        _ = try ModuleActions.describe(m)
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
