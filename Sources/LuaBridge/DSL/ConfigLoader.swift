#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import Logging
import Pipeline
import RunnerSystem

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
    private var settings = Settings()
    private var groups: [HostGroup] = []
    private var rawPipelines: [(name: String, table: LuaTable, at: SourceLocation)] = []
    private var modules: [ReceiverModule] = []
    private var pendingDeclarations: [String: (kind: String, name: String, at: SourceLocation)] = [:]
    private var declarationCounter = 0
    private var index = SourceIndex([])
    private var indexedSources = 0
    let hooks: LuaHooks

    /// The directories plugins are looked up in, after the script's own folder.
    public static func pluginDirectories(scriptDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var dirs = [scriptDirectory]
        if let extra = environment["RUNNER_PLUGIN_PATH"] {
            dirs += extra.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        }
        // Installed plugins: <prefix>/share/runner/plugins beside bin/runner; in a
        // checkout, the repository's plugins/ above .build/.
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()
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
            try state.runFile(file)
        } catch let error as LuaError {
            // Lua's own errors (syntax, runtime) are configuration errors with their place.
            let at = error.file.map { SourceLocation(file: $0, line: error.line ?? 0) } ?? SourceLocation(file: file, line: 0)
            throw ConfigError(error.message, at: at, hint: ConfigLoader.misspeltGlobalHint(error.message))
        }
        refreshIndex()
        if let pending = pendingDeclarations.values.sorted(by: { $0.at.line < $1.at.line }).first {
            throw ConfigError("\(pending.kind) '\(pending.name)' has no { ... } body", at: pending.at,
                              hint: "write \(pending.kind) \"\(pending.name)\" { ... }")
        }
        var pipelines: [PipelineConfig] = []
        for raw in rawPipelines { pipelines.append(try buildPipeline(raw.name, raw.table, at: raw.at)) }
        let configuration = Configuration(file: file, settings: settings, groups: groups, pipelines: pipelines, modules: modules)
        return (configuration, hooks)
    }

    /// For "attempt to call a nil value (global 'pipline')": did you mean 'pipeline'?
    static func misspeltGlobalHint(_ message: String) -> String? {
        guard let start = message.firstRange(of: "(global '"), let end = message[start.upperBound...].firstIndex(of: "'") else { return nil }
        let name = String(message[start.upperBound..<end])
        return ConfigError.suggestion(for: name, among: ["settings", "group", "pipeline", "module", "runner", "require"])
    }

    // MARK: The DSL functions

    private func installDSL() throws {
        try state.register("settings") { [unowned self] call in
            let at = location(call)
            guard case .table(let t) = call.arguments.first ?? .nil else {
                throw ConfigError("settings takes a table: settings { log = \"info\" }", at: at)
            }
            try self.applySettings(t, at: at)
            return []
        }
        for kind in ["group", "pipeline", "module"] {
            try state.register(kind) { [unowned self] call in
                let at = location(call)
                guard let name = call.arguments.first?.stringValue, case .string = call.arguments.first!, !name.isEmpty else {
                    throw ConfigError("\(kind) needs a name: \(kind) \"name\" { ... }", at: at)
                }
                self.declarationCounter += 1
                let id = "\(kind)#\(self.declarationCounter)"
                self.pendingDeclarations[id] = (kind, name, at)
                return [self.state.function { [unowned self] body in
                    self.pendingDeclarations[id] = nil
                    guard case .table(let t) = body.arguments.first ?? .nil else {
                        throw ConfigError("\(kind) '\(name)' takes a table: \(kind) \"\(name)\" { ... }", at: at)
                    }
                    try self.declare(kind, name: name, table: t, at: at)
                    return []
                }]
            }
        }
        var runner = LuaTable()
        runner["version"] = .text(RunnerVersion.current)
        runner["log"] = state.function { [logger] call in
            let level = call.arguments.first?.stringValue ?? "info"
            let message = call.arguments.dropFirst().map { $0.stringValue ?? "\($0.typeName)" }.joined(separator: " ")
            guard let l = Logger.Level(rawValue: level) else {
                throw ConfigError("runner.log: unknown level '\(level)'", hint: ConfigError.suggestion(for: level, among: Settings.logLevels))
            }
            var m: Logger.Metadata = ["source": "lua"]
            if let at = call.callerLocation { m["at"] = "\(at.file):\(at.line)" }
            logger.log(level: l, "\(message)", metadata: m)
            return []
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
            groups.append(try buildGroup(name, table, at: at))
        case "pipeline":
            if let first = rawPipelines.first(where: { $0.name == name }) {
                throw ConfigError("pipeline '\(name)' is declared twice (first at \(first.at))", at: at)
            }
            try checkKeys(table, known: ConfigLoader.pipelineKeys, what: "pipeline '\(name)'", at: at)
            rawPipelines.append((name, table, at))
        default:
            if let first = modules.first(where: { $0.name == name }) {
                throw ConfigError("module '\(name)' is declared twice (first at \(first.location))", at: at)
            }
            modules.append(try buildModule(name, table, at: at))
        }
    }

    // MARK: Keys and types

    static let settingsKeys = ["log", "status", "listen", "max_connections", "handshake_timeout", "idle_timeout"]
    static let groupKeys = ["vars"]
    static let pipelineKeys = ["source", "ignore", "delay", "max_delay", "scan_interval", "to", "auth", "delete", "rollout", "check", "after", "ssh"]
    static let sshKeys = ["command", "runner", "receiver"]
    static let moduleKeys = ["path", "auth_users", "secrets", "hosts_allow", "hosts_deny", "read_only", "fsync", "on_sync", "function_timeout"]
    static let authKeys = ["user", "secret_file"]

    private func checkKeys(_ table: LuaTable, known: [String], what: String, at: SourceLocation, allowArray: Bool = false) throws {
        for key in table.fields.keys.sorted(by: { $0.description < $1.description }) {
            guard case .string = key else {
                throw ConfigError("\(what): unexpected key [\(key.description)]", at: at)
            }
            let name = key.description
            if !known.contains(name) {
                throw ConfigError("\(what): unknown key '\(name)'", at: index.locateKey(name, after: at),
                                  hint: ConfigError.suggestion(for: name, among: known) ?? "known keys: \(known.joined(separator: ", "))")
            }
        }
        if !allowArray && !table.array.isEmpty {
            throw ConfigError("\(what): unexpected list items (\(table.array.count)); only key = value entries belong here", at: at)
        }
    }

    private func wrongType(_ what: String, _ key: String, expected: String, got value: LuaValue, at: SourceLocation) -> ConfigError {
        ConfigError("\(what): '\(key)' must be \(expected), got \(value.typeName)", at: index.locateKey(key, after: at))
    }

    private func string(_ t: LuaTable, _ key: String, _ what: String, at: SourceLocation) throws -> String? {
        switch t[key] {
        case .nil: return nil
        case .string: return t[key].stringValue
        case let v: throw wrongType(what, key, expected: "a string", got: v, at: at)
        }
    }

    private func number(_ t: LuaTable, _ key: String, _ what: String, at: SourceLocation) throws -> Double? {
        switch t[key] {
        case .nil: return nil
        case let v:
            guard let d = v.numberValue else { throw wrongType(what, key, expected: "a number", got: v, at: at) }
            guard d.isFinite, d >= 0 else {
                throw ConfigError("\(what): '\(key)' must be a number of seconds >= 0", at: index.locateKey(key, after: at))
            }
            return d
        }
    }

    private func bool(_ t: LuaTable, _ key: String, _ what: String, at: SourceLocation) throws -> Bool? {
        switch t[key] {
        case .nil: return nil
        case .boolean(let b): return b
        case let v: throw wrongType(what, key, expected: "true or false", got: v, at: at)
        }
    }

    /// A string, or a list of strings.
    private func strings(_ t: LuaTable, _ key: String, _ what: String, at: SourceLocation) throws -> [String]? {
        switch t[key] {
        case .nil: return nil
        case .string: return [t[key].stringValue!]
        case .table(let list):
            guard list.fields.isEmpty else { throw wrongType(what, key, expected: "a list of strings", got: .table(list), at: at) }
            return try list.array.map { v in
                guard case .string = v else { throw wrongType(what, key, expected: "a list of strings", got: v, at: at) }
                return v.stringValue!
            }
        case let v: throw wrongType(what, key, expected: "a string or a list of strings", got: v, at: at)
        }
    }

    // MARK: Builders

    private func applySettings(_ t: LuaTable, at: SourceLocation) throws {
        let what = "settings"
        try checkKeys(t, known: ConfigLoader.settingsKeys, what: what, at: at)
        if let level = try string(t, "log", what, at: at) {
            guard Settings.logLevels.contains(level) else {
                throw ConfigError("settings: unknown log level '\(level)'", at: index.locateKey("log", after: at),
                                  hint: ConfigError.suggestion(for: level, among: Settings.logLevels) ?? "one of \(Settings.logLevels.joined(separator: ", "))")
            }
            settings.logLevel = level
        }
        if let status = try string(t, "status", what, at: at) {
            try checkAddress(status, key: "status", at: at)
            settings.status = status
        }
        if let listen = try string(t, "listen", what, at: at) {
            try checkAddress(listen, key: "listen", at: at)
            settings.listen = listen
        }
        if let n = try number(t, "max_connections", what, at: at) {
            guard n >= 1, n == n.rounded() else {
                throw ConfigError("settings: 'max_connections' must be a whole number >= 1", at: index.locateKey("max_connections", after: at))
            }
            settings.maxConnections = Int(n)
        }
        if let t = try number(t, "handshake_timeout", what, at: at) { settings.handshakeTimeout = max(0.1, t) }
        if let t = try number(t, "idle_timeout", what, at: at) { settings.idleTimeout = max(0.1, t) }
    }

    /// `host:port`; `listen` may use port 0 (the kernel picks one, and the daemon logs it).
    private func checkAddress(_ text: String, key: String, at: SourceLocation) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              ((key == "listen" ? 0 : 1)...65535).contains(port),
              colon != text.startIndex else {
            throw ConfigError("settings: '\(key)' must be host:port, got '\(text)'", at: index.locateKey(key, after: at))
        }
    }

    private func buildGroup(_ name: String, _ t: LuaTable, at: SourceLocation) throws -> HostGroup {
        let what = "group '\(name)'"
        try checkKeys(t, known: ConfigLoader.groupKeys, what: what, at: at, allowArray: true)
        var targets: [TargetURI] = []
        for item in t.array {
            guard case .string = item, let text = item.stringValue else {
                throw ConfigError("\(what): targets must be strings, got \(item.typeName)", at: at)
            }
            do { targets.append(try TargetURI(parsing: text)) } catch {
                throw ConfigError("\(what): \(error.message)", at: index.locateLiteral(text, near: at) ?? at, hint: error.hint)
            }
        }
        if targets.isEmpty { throw ConfigError("\(what) has no targets", at: at, hint: "group \"\(name)\" { \"runner://host/module\" }") }
        var vars: [String: String] = [:]
        switch t["vars"] {
        case .nil: break
        case .table(let v):
            guard v.array.isEmpty else { throw ConfigError("\(what): 'vars' must be a table of NAME = value", at: index.locateKey("vars", after: at)) }
            for (k, value) in v.fields {
                switch value {
                case .string, .integer, .number, .boolean:
                    vars[k.description] = value.stringValue ?? value.scalarText
                default:
                    throw ConfigError("\(what): vars.\(k.description) must be a string, number or boolean, got \(value.typeName)",
                                      at: index.locateKey(k.description, after: at))
                }
            }
        case let v: throw wrongType(what, "vars", expected: "a table", got: v, at: at)
        }
        return HostGroup(name: name, targets: targets, vars: vars, location: at)
    }

    private func buildPipeline(_ name: String, _ t: LuaTable, at: SourceLocation) throws -> PipelineConfig {
        let what = "pipeline '\(name)'"
        guard let rawSource = try string(t, "source", what, at: at) else {
            throw ConfigError("\(what): 'source' is missing", at: at, hint: "source = \"/path/to/watched/dir\"")
        }
        let (source, sourceFile) = try resolveSource(rawSource, what: what, at: at)

        let delay = try number(t, "delay", what, at: at) ?? 0.2
        let maxDelay = try number(t, "max_delay", what, at: at)
        if let maxDelay, maxDelay < delay {
            throw ConfigError("\(what): 'max_delay' (\(maxDelay)) is less than 'delay' (\(delay))", at: index.locateKey("max_delay", after: at))
        }

        let scanInterval = try number(t, "scan_interval", what, at: at) ?? 10
        guard scanInterval >= 0.05 else {
            throw ConfigError("\(what): 'scan_interval' must be at least 0.05 seconds", at: index.locateKey("scan_interval", after: at))
        }

        guard let to = try strings(t, "to", what, at: at), !to.isEmpty else {
            throw ConfigError("\(what): 'to' is missing", at: at, hint: "to = { \"group-name\" } or to = \"file:///path\"")
        }
        var destinations: [PipelineConfig.Destination] = []
        for entry in to {
            if entry.contains("://") {
                do {
                    let uri = try TargetURI(parsing: entry)
                    if !destinations.contains(where: { $0.uri == uri }) { destinations.append(.init(uri: uri, group: nil)) }
                } catch {
                    throw ConfigError("\(what): \(error.message)", at: index.locateLiteral(entry, near: at) ?? at, hint: error.hint)
                }
            } else if let group = groups.first(where: { $0.name == entry }) {
                for uri in group.targets where !destinations.contains(where: { $0.uri == uri }) {
                    destinations.append(.init(uri: uri, group: group.name, vars: group.vars))
                }
            } else {
                let known = groups.map(\.name)
                throw ConfigError("\(what): 'to' names an undefined group '\(entry)'", at: index.locateLiteral(entry, near: at) ?? at,
                                  hint: ConfigError.suggestion(for: entry, among: known)
                                      ?? (known.isEmpty ? "declare it with group \"\(entry)\" { ... }" : "groups: \(known.joined(separator: ", "))"))
            }
        }

        var auth: PipelineConfig.Auth?
        switch t["auth"] {
        case .nil: break
        case .table(let a):
            try checkKeys(a, known: ConfigLoader.authKeys, what: "\(what) auth", at: index.locateKey("auth", after: at))
            guard let user = try string(a, "user", "\(what) auth", at: at), let secret = try string(a, "secret_file", "\(what) auth", at: at) else {
                throw ConfigError("\(what): auth needs both 'user' and 'secret_file'", at: index.locateKey("auth", after: at))
            }
            auth = .init(user: user, secretFile: resolvePath(secret))
        case let v: throw wrongType(what, "auth", expected: "a table { user = ..., secret_file = ... }", got: v, at: at)
        }

        var rollout = PipelineConfig.Rollout.all
        if let r = try string(t, "rollout", what, at: at) {
            guard let value = PipelineConfig.Rollout(rawValue: r) else {
                throw ConfigError("\(what): 'rollout' must be \"all\" or \"canary\", got \"\(r)\"", at: index.locateKey("rollout", after: at))
            }
            rollout = value
        }

        var rules: [IgnoreRule] = []
        switch t["ignore"] {
        case .nil: break
        case let v: try collectRules(v, pipeline: name, ruleSet: nil, into: &rules, at: index.locateKey("ignore", after: at), what: what)
        }

        for key in ["check", "after"] {
            switch t[key] {
            case .nil: break
            case .function(let f):
                if key == "check" { hooks.checks[name] = f } else { hooks.afters[name] = f }
            case let v: throw wrongType(what, key, expected: "a function", got: v, at: at)
            }
        }

        var ssh = PipelineConfig.SSH()
        switch t["ssh"] {
        case .nil: break
        case .table(let o):
            let here = index.locateKey("ssh", after: at)
            try checkKeys(o, known: ConfigLoader.sshKeys, what: "\(what) ssh", at: here)
            if let command = try strings(o, "command", "\(what) ssh", at: here) {
                // One string is split at white space; a list is taken as it is.
                ssh.command = command.count == 1 ? command[0].split(whereSeparator: \.isWhitespace).map(String.init) : command
                guard !ssh.command.isEmpty else { throw ConfigError("\(what): ssh.command is empty", at: here) }
            }
            if let runner = try string(o, "runner", "\(what) ssh", at: here) { ssh.runner = runner }
            if let receiver = try string(o, "receiver", "\(what) ssh", at: here) { ssh.receiver = receiver }
        case let v: throw wrongType(what, "ssh", expected: "a table { command = ..., runner = ..., receiver = ... }", got: v, at: at)
        }

        var config = PipelineConfig(name: name, source: source, sourceFile: sourceFile, ignore: rules, delay: delay,
                              maxDelay: maxDelay, scanInterval: scanInterval,
                              destinations: destinations, auth: auth, delete: try bool(t, "delete", what, at: at) ?? false,
                              rollout: rollout, hasCheck: hooks.checks[name] != nil, hasAfter: hooks.afters[name] != nil,
                              location: at)
        config.ssh = ssh
        return config
    }

    /// Flattens `ignore`: strings are globs, functions are predicates, tables are
    /// (possibly named) rule sets that nest.
    private func collectRules(_ value: LuaValue, pipeline: String, ruleSet: String?, into rules: inout [IgnoreRule],
                              at: SourceLocation, what: String, depth: Int = 0) throws {
        guard depth < 16 else { throw ConfigError("\(what): ignore rule sets nest too deeply", at: at) }
        switch value {
        case .string:
            let text = value.stringValue!
            let location = index.locateLiteral(text, near: ruleSet == nil ? at : nil) ?? at
            let rule = IgnoreRule.glob(text, ruleSet: ruleSet, location: location)
            _ = try Filter(rules: [rule])  // a pattern that cannot match is refused here, with its line
            rules.append(rule)
        case .function(let f):
            let defined = f.definedAt.map { SourceLocation(file: $0.file, line: $0.line) }
            let index = hooks.addPredicate(f, pipeline: pipeline)
            rules.append(IgnoreRule(matcher: .predicate(index: index), text: "function", ruleSet: ruleSet, location: defined))
        case .table(let t):
            var setName = ruleSet
            for (k, v) in t.fields {
                guard k.description == "name", case .string = v else {
                    throw ConfigError("\(what): an ignore rule set may only have a 'name' besides its list, found '\(k.description)'", at: at)
                }
                setName = v.stringValue
            }
            for item in t.array {
                try collectRules(item, pipeline: pipeline, ruleSet: setName, into: &rules, at: at, what: what, depth: depth + 1)
            }
        case let v:
            throw ConfigError("\(what): an ignore rule must be a pattern string, a function or a list of them, got \(v.typeName)", at: at)
        }
    }

    private func buildModule(_ name: String, _ t: LuaTable, at: SourceLocation) throws -> ReceiverModule {
        let what = "module '\(name)'"
        guard TargetURI.isValidModuleName(name) else {
            throw ConfigError("\(what): a module name must be letters, digits, '.', '_' or '-'", at: at)
        }
        try checkKeys(t, known: ConfigLoader.moduleKeys, what: what, at: at)
        guard let path = try string(t, "path", what, at: at) else {
            throw ConfigError("\(what): 'path' is missing", at: at, hint: "path = \"/served/directory\"")
        }
        var actions: [ReceiverModule.Action] = []
        switch t["on_sync"] {
        case .nil: break
        case .table(let list):
            for item in list.array {
                switch item {
                case .function(let f):
                    let number = hooks.addModuleAction(f, module: name)
                    actions.append(.function(index: number, f.definedAt.map { SourceLocation(file: $0.file, line: $0.line) }))
                case .table(let spec):
                    guard let kind = spec["kind"].stringValue else {
                        throw ConfigError("\(what): an on_sync action table needs a 'kind'", at: index.locateKey("on_sync", after: at))
                    }
                    var parameters: [String: ReceiverModule.ActionValue] = [:]
                    for (k, v) in spec.fields where k.description != "kind" {
                        switch v {
                        case .table(let t) where t.fields.isEmpty:
                            parameters[k.description] = .list(t.array.map { $0.stringValue ?? $0.scalarText })
                        case .table(let t) where t.array.isEmpty:
                            var map: [String: String] = [:]
                            for (mk, mv) in t.fields { map[mk.description] = mv.stringValue ?? mv.scalarText }
                            parameters[k.description] = .map(map)
                        case .table:
                            throw ConfigError("\(what): on_sync \(kind): '\(k.description)' mixes a list and NAME = value pairs",
                                              at: index.locateKey("on_sync", after: at))
                        default:
                            parameters[k.description] = .text(v.stringValue ?? v.scalarText)
                        }
                    }
                    actions.append(.spec(kind: kind, parameters: parameters))
                default:
                    throw ConfigError("\(what): on_sync entries must be actions or functions, got \(item.typeName)", at: index.locateKey("on_sync", after: at))
                }
            }
        case let v: throw wrongType(what, "on_sync", expected: "a list of actions", got: v, at: at)
        }
        var module = ReceiverModule(
            name: name, path: resolvePath(path), authUsers: try strings(t, "auth_users", what, at: at) ?? [],
            secrets: try string(t, "secrets", what, at: at).map(resolvePath), hostsAllow: try addressRules(t, "hosts_allow", what, at: at),
            hostsDeny: try addressRules(t, "hosts_deny", what, at: at), readOnly: try bool(t, "read_only", what, at: at) ?? false,
            onSync: actions, location: at)
        module.fsync = try bool(t, "fsync", what, at: at) ?? false
        switch t["function_timeout"] {
        case .nil: break
        case let v:
            guard let seconds = v.numberValue, seconds > 0 else {
                throw wrongType(what, "function_timeout", expected: "a positive number of seconds", got: v, at: at)
            }
            module.functionTimeout = seconds
        }
        return module
    }

    /// `hosts_allow` / `hosts_deny`, parsed here so that a bad rule is an error with its line.
    private func addressRules(_ t: LuaTable, _ key: String, _ what: String, at: SourceLocation) throws -> [AddressRule] {
        var rules: [AddressRule] = []
        for text in try strings(t, key, what, at: at) ?? [] {
            do { rules.append(try AddressRule(parsing: text)) } catch {
                throw ConfigError("\(what): \(key): \(error.message)", at: index.locateLiteral(text, near: at) ?? at, hint: error.hint)
            }
        }
        return rules
    }

    /// Relative paths are relative to the configuration file's folder.
    private func resolvePath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(path).standardizedFileURL.path
    }

    /// The source as (directory, file name when the source is a single file), symlinks resolved.
    private func resolveSource(_ raw: String, what: String, at: SourceLocation) throws -> (String, String?) {
        let path = resolvePath(raw)
        let here = index.locateKey("source", after: at)
        guard let real = realpath(path, nil) else {
            throw ConfigError("\(what): 'source' \(path) does not exist", at: here)
        }
        let resolved = String(cString: real)
        free(real)
        switch FileInfo.lstat(resolved)?.kind {
        case .directory?:
            return (resolved, nil)
        case .file?:
            let url = URL(fileURLWithPath: resolved)
            return (url.deletingLastPathComponent().path, url.lastPathComponent)
        default:
            throw ConfigError("\(what): 'source' \(path) is neither a directory nor a regular file", at: here)
        }
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
