import FoundationEssentials
import Logging
import LuaKit
import Pipeline
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a `pipeline.lua` or `receiver.lua` and builds its configuration.
///
/// The DSL (`settings{}`, `group "n" {}`, `pipeline "n" {}`, `module "n" {}`) records
/// declarations while the script runs; names are resolved and checked after it
/// finished, so a pipeline may name a group declared further down.
/// Every mistake becomes a `ConfigError` naming the file and line.
public final class ConfigLoader {
    /// The file being loaded.
    public let file: String
    /// The Lua state the script ran in; it stays alive for the callbacks.
    public let state: LuaState
    private let logger: Logger
    /// How long the script (with the plugins it loads) may run: past it, a loop that never
    /// ends is a configuration error, not a `runner check` that hangs.
    public var timeout: Double = 10
    var settings = Settings()
    var groups: [HostGroup] = []
    var hosts: [HostVars] = []
    private var rawPipelines: [(name: String, table: LuaTable, at: SourceLocation)] = []
    private var modules: [ReceiverModule] = []
    private var pendingDeclarations: [String: (kind: String, name: String, at: SourceLocation)] = [:]
    private var declarationCounter = 0
    var index = SourceIndex([])
    private var indexedSources = 0
    let hooks: LuaHooks

    /// The directories plugins are looked up in, after the script's own folder.
    public static func pluginDirectories(
        scriptDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> [String] {
        var dirs = [scriptDirectory]
        if let extra = environment["RUNNER_PLUGIN_PATH"] {
            dirs += extra.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        }
        // Installed plugins: <prefix>/share/runner/plugins beside bin/runner; in a
        // checkout, the repository's plugins/ above .build/. The executable as the kernel
        // knows it: argv[0] is only "runner" when a shell found it on PATH.
        let path = FileSystem.readLink("/proc/self/exe") ?? CommandLine.arguments.first ?? ""
        let exe = URL(fileURLWithPath: path).resolvingSymlinksInPath().deletingLastPathComponent()
        dirs.append(exe.deletingLastPathComponent().appendingPathComponent("share/runner/plugins").path)
        var dir = exe
        for _ in 0..<5 {
            let candidate = dir.appendingPathComponent("plugins")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("tempfiles.lua").path) {
                dirs.append(candidate.path)
                break
            }
            dir.deleteLastPathComponent()
        }
        return dirs
    }

    /// Prepares to load `file` (nothing runs yet).
    public init(file: String, logger: Logger, pluginDirectories: [String]? = nil) {
        self.file = file
        self.logger = logger
        self.state = LuaState()
        self.hooks = LuaHooks(state: state)
        let scriptDir = URL(fileURLWithPath: file).deletingLastPathComponent().path
        state.setPackagePath(pluginDirectories ?? ConfigLoader.pluginDirectories(scriptDirectory: scriptDir))
    }

    /// Runs the script and returns what it declared, with the hooks for its callbacks.
    public func load() throws -> (Configuration, any PipelineHooks) {
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw ConfigError("cannot read the configuration file", at: SourceLocation(file: file, line: 0))
        }
        try installDSL()
        do {
            try state.runFile(file, timeout: timeout)
        } catch let error as LuaError {
            // Lua's own errors (syntax, runtime, the deadline) are configuration errors with their place.
            let at =
                error.file.map { SourceLocation(file: $0, line: error.line ?? 0) }
                ?? SourceLocation(file: file, line: 0)
            guard error.kind != .timeout else {
                throw ConfigError(
                    "the script still ran after \(MonotonicClock.text(seconds: timeout)) (a loop that never ends?)",
                    at: at)
            }
            throw ConfigError(error.message, at: at, hint: ConfigLoader.misspeltGlobalHint(error.message))
        }
        refreshIndex()
        if let pending = pendingDeclarations.values.sorted(by: { $0.at.line < $1.at.line }).first {
            throw ConfigError(
                "\(pending.kind) '\(pending.name)' has no { ... } body", at: pending.at,
                hint: "write \(pending.kind) \"\(pending.name)\" { ... }")
        }
        var pipelines: [PipelineConfig] = []
        for raw in rawPipelines {
            pipelines.append(try buildPipeline(raw.name, reader(raw.table, "pipeline '\(raw.name)'", at: raw.at)))
        }
        for host in hosts where !pipelines.contains(where: { $0.destinations.contains { $0.uri == host.uri } }) {
            throw ConfigError(
                "host '\(host.uri)' is not a target of any pipeline", at: host.location,
                hint: "its vars would apply to nothing; name it in a group or a pipeline's 'to'")
        }
        var configuration = Configuration(
            file: file, settings: settings, groups: groups, pipelines: pipelines, modules: modules)
        configuration.hosts = hosts
        return (configuration, hooks)
    }

    /// For "attempt to call a nil value (global 'pipline')": did you mean 'pipeline'?
    static func misspeltGlobalHint(_ message: String) -> String? {
        guard let start = message.firstRange(of: "(global '"),
            let end = message[start.upperBound...].firstIndex(of: "'")
        else { return nil }
        let name = String(message[start.upperBound..<end])
        return ConfigError.suggestion(
            for: name, among: ["settings", "group", "pipeline", "module", "runner", "require"])
    }

    // MARK: The DSL functions

    private func installDSL() throws {
        try state.register("settings") { [unowned self] call in
            let at = location(call)
            guard case .table(let t) = call.arguments.first ?? .nil else {
                throw ConfigError("settings takes a table: settings { log = \"info\" }", at: at)
            }
            // Read while the script runs: the index must know its lines already.
            self.refreshIndex()
            try self.applySettings(self.reader(t, "settings", at: at))
            return []
        }
        for kind in ["group", "host", "pipeline", "module"] {
            try state.register(kind) { [unowned self] call in
                let at = location(call)
                guard let name = call.arguments.first?.stringValue, case .string = call.arguments.first!, !name.isEmpty
                else {
                    throw ConfigError("\(kind) needs a name: \(kind) \"name\" { ... }", at: at)
                }
                self.declarationCounter += 1
                let id = "\(kind)#\(self.declarationCounter)"
                self.pendingDeclarations[id] = (kind, name, at)
                return [
                    self.state.function { [unowned self] body in
                        self.pendingDeclarations[id] = nil
                        guard case .table(let t) = body.arguments.first ?? .nil else {
                            throw ConfigError("\(kind) '\(name)' takes a table: \(kind) \"\(name)\" { ... }", at: at)
                        }
                        try self.declare(kind, name: name, table: t, at: at)
                        return []
                    }
                ]
            }
        }
        var runner = LuaTable()
        runner["version"] = .text(RunnerVersion.current)
        runner["log"] = state.function { [logger] call in
            let level = call.arguments.first?.stringValue ?? "info"
            let message = call.arguments.dropFirst().map { $0.stringValue ?? "\($0.typeName)" }.joined(separator: " ")
            guard let l = Logger.Level(rawValue: level) else {
                throw ConfigError(
                    "runner.log: unknown level '\(level)'",
                    hint: ConfigError.suggestion(for: level, among: Settings.logLevels))
            }
            var m: Logger.Metadata = ["source": "lua"]
            if let at = call.callerLocation { m["at"] = "\(at.file):\(at.line)" }
            logger.log(level: l, "\(message)", metadata: m)
            return []
        }
        // runner.exec { argv = ... } and runner.signal { pidfile = ... }: an on_sync action,
        // its keys checked against the schema here, at the line that writes them. A plugin
        // builds its own kind with runner.action(kind, options, level), level 2 naming the
        // line of the script that called the plugin (phpfpm.reload).
        for kind in ["exec", "signal"] {
            runner[kind] = state.function { [unowned self] call in
                try self.action(kind, call.arguments.first ?? .nil, call, level: 1, what: "runner.\(kind)")
            }
        }
        runner["action"] = state.function { [unowned self] call in
            let kind = call.arguments.first?.stringValue ?? ""
            let level = Int32(call.arguments.dropFirst(2).first?.numberValue ?? 1)
            return try self.action(kind, call.arguments.dropFirst().first ?? .nil, call, level: level, what: kind)
        }
        try state.setGlobal("runner", .table(runner))
        try state.run("package.loaded.runner = runner", name: "=runner")
    }

    /// Re-reads the loaded sources into the index only when a plugin was loaded since:
    /// every declaration needs it, and the sources are split into lines each time.
    private func refreshIndex() {
        guard state.loadedSources.count != indexedSources else { return }
        index = SourceIndex(state.loadedSources)
        indexedSources = state.loadedSources.count
    }

    /// `{ kind = kind, ... }` from a helper's table, its keys checked against the kind's schema.
    private func action(_ kind: String, _ options: LuaValue, _ call: LuaCall, level: Int32, what: String) throws
        -> [LuaValue]
    {
        refreshIndex()
        let at =
            call.location(level: max(1, level)).map { SourceLocation(file: $0.file, line: $0.line) } ?? location(call)
        guard let schema = ConfigSchema.action(kind) else {
            throw ConfigError(
                "unknown on_sync action kind '\(kind)'", at: at,
                hint: ConfigError.suggestion(for: kind, among: ConfigSchema.actionKinds))
        }
        guard case .table(var table) = options else {
            throw ConfigError("\(what) takes a table: \(what) { ... }", at: at)
        }
        try reader(table, what, at: at).checkKeys(schema)
        table["kind"] = .text(kind)
        return [.table(table)]
    }

    private func location(_ call: LuaCall) -> SourceLocation {
        call.callerLocation.map { SourceLocation(file: $0.file, line: $0.line) } ?? SourceLocation(file: file, line: 0)
    }

    private func declare(_ kind: String, name: String, table: LuaTable, at: SourceLocation) throws {
        refreshIndex()
        switch kind {
        case "group":
            if let first = groups.first(where: { $0.name == name }) {
                throw ConfigError("group '\(name)' is declared twice (first at \(first.location))", at: at)
            }
            groups.append(try buildGroup(name, reader(table, "group '\(name)'", at: at)))
        case "host":
            let host = try buildHost(name, reader(table, "host '\(name)'", at: at))
            if let first = hosts.first(where: { $0.uri == host.uri }) {
                throw ConfigError("host '\(name)' is declared twice (first at \(first.location))", at: at)
            }
            hosts.append(host)
        case "pipeline":
            if let first = rawPipelines.first(where: { $0.name == name }) {
                throw ConfigError("pipeline '\(name)' is declared twice (first at \(first.at))", at: at)
            }
            try reader(table, "pipeline '\(name)'", at: at).checkKeys(ConfigSchema.pipeline)
            rawPipelines.append((name, table, at))
        default:
            if let first = modules.first(where: { $0.name == name }) {
                throw ConfigError("module '\(name)' is declared twice (first at \(first.location))", at: at)
            }
            modules.append(try buildModule(name, reader(table, "module '\(name)'", at: at)))
        }
    }

    /// A reader for one declaration's table.
    func reader(_ table: LuaTable, _ what: String, at: SourceLocation) -> LuaTableReader {
        LuaTableReader(table: table, what: what, at: at, index: index)
    }
}

extension LuaValue {
    /// Numbers and booleans as text (`1`, `0.5`, `true`).
    var scalarText: String {
        switch self {
        case .integer(let i): return String(i)
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .boolean(let b): return String(b)
        default: return stringValue ?? typeName
        }
    }
}

extension ConfigError: LocatedError {}
