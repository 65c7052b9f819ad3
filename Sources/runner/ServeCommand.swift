import ArgumentParser
import Logging
import LuaBridge
import Pipeline
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

extension Runner {
    /// `runner serve R.lua`: the receiver daemon.
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The receiver daemon: accept senders on the listen address and serve the script's modules.")

        @OptionGroup var options: ScriptOptions

        func run() throws {
            try reportingErrors {
                var logger = options.makeLogger()
                let served = try ServedConfiguration(options, logger: &logger)
                let settings = served.settings
                let control = RunControl(logger: logger)
                // A host whose modules all dial their sender need not listen at all.
                let dialOnly = served.modules.allSatisfy { $0.module.upstream != nil }
                let daemon = try ReceiverDaemon(
                    listen: dialOnly && !settings.listenGiven ? nil : settings.listen,
                    maxConnections: settings.maxConnections, startups: settings.startups, logger: logger)
                let face = try ServiceFace(settings: settings, version: RunnerVersion.current, logger: logger)
                face.attach(daemon) { served.modules.map(\.module) }
                ReceiverSession.noteOwners(served.modules.map(\.module), logger: logger)
                daemon.run(
                    control: control,
                    refresh: { [logger] forced in
                        served.refresh(force: forced, logger: logger)
                    },
                    session: { [logger] connection, peer, report in
                        var logger = logger
                        logger[metadataKey: "peer"] = "\(peer)"
                        let mode = ReceiverSession.Mode.daemon(
                            peer: peer, handshakeTimeout: served.settings.handshakeTimeout,
                            idleTimeout: served.settings.idleTimeout)
                        do {
                            try ReceiverSession.serve(
                                modules: served.modules, mode: mode, input: connection, output: connection,
                                logger: logger, report: report)
                            return 0
                        } catch {
                            return Exit.runtimeFailure.rawValue
                        }
                    },
                    upstreams: {
                        Dictionary(
                            uniqueKeysWithValues: served.modules.compactMap { m in
                                m.module.upstream.map { (m.module.name, $0) }
                            })
                    },
                    dial: { [logger] module, upstream, report in
                        UpstreamDial.serve(
                            modules: served.modules, module: module, upstream: upstream,
                            handshakeTimeout: served.settings.handshakeTimeout,
                            idleTimeout: served.settings.idleTimeout, logger: logger, report: report)
                    })
            }
        }
    }
}

/// The receiver script as the daemon serves it: loaded at start-up (a broken one is a
/// configuration error), and again on SIGHUP or when the file changed before a
/// connection (a broken one is then logged and the one in use goes on). Its modules'
/// actions are built once per load, not per connection.
final class ServedConfiguration {
    private let script: String
    private var stamp: [Int]
    /// Kept alive with the modules: the Lua functions they hold live in its state.
    private var loaded: LoadedScript
    private(set) var modules: [ServedModule]

    var settings: Settings { loaded.configuration.settings }

    init(_ options: ScriptOptions, logger: inout Logger) throws {
        script = options.script
        stamp = ServedConfiguration.stamp(of: script)
        loaded = try options.load(&logger)
        modules = try ServedConfiguration.check(loaded, logger: logger)
    }

    /// Loads the script again if `force` or it changed; returns why a new one was refused.
    @discardableResult
    func refresh(force: Bool, logger: Logger) -> String? {
        let now = ServedConfiguration.stamp(of: script)
        guard force || now != stamp else { return nil }
        stamp = now
        do {
            let fresh = try LoadedScript(script, logger: logger)
            let freshModules = try ServedConfiguration.check(fresh, logger: logger)
            if fresh.configuration.settings.listen != settings.listen
                || fresh.configuration.settings.maxConnections != settings.maxConnections
                || fresh.configuration.settings.startups != settings.startups
            {
                logger.warning(
                    "listen, max_connections, max_startups and per_source_startups changes apply at the next start")
            }
            (loaded, modules) = (fresh, freshModules)
            logger.notice("reloaded \(script)")
            return nil
        } catch {
            logger.error("reload refused, serving the previous configuration: \(error)")
            return "\(error)"
        }
    }

    private static func check(_ script: LoadedScript, logger: Logger) throws -> [ServedModule] {
        let modules = try script.servedModules()
        for served in modules {
            try ModuleCheck.verify(served.module)
            for problem in served.problems { logger.warning("\(problem)") }
        }
        return modules
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
            throw ConfigError(
                "module '\(m.name)': \(m.path) is a mount point; batches are staged in \(parent), another file system",
                at: m.location, hint: "serve a directory inside the mount, e.g. \(m.path)/data")
        }
        if let secrets = m.secrets {
            let users = try SecretsFile.readReceiverSecrets(secrets, at: m.location)
            for u in m.authUsers where users[u] == nil {
                throw ConfigError(
                    "module '\(m.name)': auth user '\(u)' has no line in \(secrets)", at: m.location,
                    hint: "add a line \(u):<secret> to \(secrets)")
            }
        } else if !m.authUsers.isEmpty {
            throw ConfigError("module '\(m.name)': auth_users is set but secrets is not", at: m.location)
        }
    }
}
