import ArgumentParser
import FoundationEssentials
import Logging
import LuaBridge
import Pipeline

/// The script a command runs, and the options every such command shares. Every command
/// loads its script the same way: a configuration error names the file and line, and
/// `settings { log = ... }` sets the level unless `--log-level` did.
struct ScriptOptions: ParsableArguments {
    @Argument(help: "The Lua script: a pipeline script, or a receiver script for serve and receive.")
    var script: String

    @Option(
        name: .long,
        help:
            "Log format: text or json on stderr, or journal (systemd's, structured; the default when stderr is the journal)."
    )
    var logFormat: LogFormat?

    @Option(
        name: .long, help: "Log level, overriding settings { log = ... }: trace, debug, info, notice, warning, error.")
    var logLevel: String?

    /// The process logger, before the script is loaded.
    func makeLogger() -> Logger {
        let environment = ProcessInfo.processInfo.environment
        let format = logFormat ?? (JournalLogHandler.stderrIsJournal(environment) ? .journal : .text)
        let journal = format == .journal ? JournalLogHandler.connect() : nil
        var logger = Logger(label: "runner") { label in
            if let journal { return JournalLogHandler(socket: journal) }
            return StderrLogHandler(label: label, format: format == .json ? .json : .text)
        }
        logger.logLevel = logLevel.flatMap(Logger.Level.init(rawValue:)) ?? .info
        return logger
    }

    /// Loads the script; the logger takes the script's level.
    func load(_ logger: inout Logger) throws -> LoadedScript {
        let script = try LoadedScript(self.script, logger: logger)
        if logLevel == nil, let level = Logger.Level(rawValue: script.configuration.settings.logLevel) {
            logger.logLevel = level
        }
        return script
    }
}

/// A loaded script: its configuration, and the Lua state that keeps its callbacks alive.
struct LoadedScript {
    let file: String
    let loader: ConfigLoader
    let configuration: Configuration
    let hooks: any PipelineHooks

    /// The script loaded for a command that only reads its settings (`status`, `log`,
    /// `diff`, `approve`...): what the script logs while it loads is not shown.
    static func quiet(_ file: String) throws -> LoadedScript {
        try LoadedScript(file, logger: Logger(label: "runner") { _ in SwiftLogNoOpLogHandler() })
    }

    init(_ file: String, logger: Logger) throws {
        self.file = file
        loader = ConfigLoader(file: file, logger: logger)
        (configuration, hooks) = try loader.load()
    }

    /// The script's pipelines; a script without one is a configuration error.
    func pipelines() throws -> [PipelineConfig] {
        guard !configuration.pipelines.isEmpty else {
            throw ConfigError(
                "declares no pipeline", at: SourceLocation(file: file, line: 0),
                hint: "add pipeline \"name\" { source = ..., to = ... }")
        }
        return configuration.pipelines
    }

    /// The pipeline `name`, or every pipeline when nil; an unknown name is a configuration error.
    func pipelines(named name: String?) throws -> [PipelineConfig] {
        let all = try pipelines()
        guard let name else { return all }
        guard let found = all.first(where: { $0.name == name }) else {
            throw ConfigError(
                "declares no pipeline '\(name)'", at: SourceLocation(file: file, line: 0),
                hint: "its pipelines: \(all.map(\.name).joined(separator: ", "))")
        }
        return [found]
    }

    /// The script's modules with their actions built (once); none is a configuration error.
    func servedModules() throws -> [ServedModule] {
        guard !configuration.modules.isEmpty else {
            throw ConfigError(
                "declares no module", at: SourceLocation(file: file, line: 0),
                hint: "add module \"name\" { path = ... }")
        }
        // A sender's setting in a receiver's script is not accepted and then ignored.
        if configuration.settings.coordination != nil {
            throw ConfigError(
                "settings.coordination is a sender's (runner run): a receiver follows whichever sender leads",
                at: SourceLocation(file: file, line: 0), hint: "remove coordination from this script")
        }
        return try configuration.modules.map { try ServedModule($0, hooks: hooks as? ActionHooks) }
    }
}

enum LogFormat: String, ExpressibleByArgument, Sendable { case text, json, journal }
