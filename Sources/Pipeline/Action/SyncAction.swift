import Logging

/// One entry of a module's `on_sync`, ready to run after a batch is committed.
protocol SyncAction {
    /// As logs and results name it.
    var name: String { get }
    /// Whether a failure rolls the batch back (a validation, or a reload that verifies).
    var validates: Bool { get }
    /// Runs once for a committed batch; may roll the batch back itself through the
    /// context (a reload that failed verification puts the old files back before it
    /// reloads again).
    func run(_ context: ActionContext) -> ActionResult
    /// What is missing on this host for the action to work (`runner check`), empty when ready.
    func problems() -> [String]
}

/// What an action sees of the batch it runs after.
struct ActionContext {
    let module: ReceiverModule
    /// The paths the batch wrote or deleted, relative to the module.
    let paths: [String]
    let logger: Logger
    let undo: BatchUndo
}

/// Puts back what a committed batch replaced, at most once.
final class BatchUndo {
    private let perform: () throws(TransferError) -> Void
    private(set) var done = false
    /// Why the undo itself failed, if it did.
    private(set) var failure: String?

    init(_ perform: @escaping () throws(TransferError) -> Void) { self.perform = perform }

    func callAsFunction() {
        guard !done else { return }
        done = true
        do { try perform() } catch { failure = error.description }
    }
}

/// Lua functions in `on_sync`, called through the bridge (Pipeline knows nothing of Lua).
public protocol ActionHooks: AnyObject {
    /// Runs function number `index` of the module's `on_sync` functions for a batch,
    /// stopped after `timeout` seconds; an error it raises is thrown.
    func runAction(module: String, index: Int, paths: [String], timeout: Double) throws -> ActionHookResult
}

/// How a Lua function of `on_sync` ended.
public enum ActionHookResult: Sendable, Equatable {
    /// It returned something other than false.
    case ok
    /// It returned false (and maybe why).
    case refused(String)
    /// It was stopped at its timeout.
    case timedOut
}

/// Builds and runs a module's actions.
public enum ModuleActions {
    /// The module's actions, checked: a bad parameter is a configuration error that
    /// names the module's declaration.
    static func make(_ module: ReceiverModule, hooks: ActionHooks?) throws(ConfigError) -> [any SyncAction] {
        var actions: [any SyncAction] = []
        for action in module.onSync {
            switch action {
            case .function(let index, let location):
                actions.append(LuaAction(index: index, location: location, hooks: hooks))
            case .spec(let kind, let parameters):
                var p = ActionParameters(kind: kind, values: parameters, module: module)
                switch kind {
                case "exec": actions.append(try ExecAction(&p))
                case "signal": actions.append(try SignalAction(&p))
                case "phpfpm.reload": actions.append(try PhpFpmReload(&p))
                default:
                    throw ConfigError(
                        "module '\(module.name)': unknown on_sync action kind '\(kind)'", at: module.location,
                        hint: ConfigError.suggestion(for: kind, among: ["exec", "signal", "phpfpm.reload"]))
                }
                try p.finish()
            }
        }
        return actions
    }

    static func describe(_ actions: [any SyncAction]) -> [String] {
        actions.map { $0.validates ? "\($0.name) (rolls the batch back on failure)" : $0.name }
    }

    /// Runs the actions in order after a committed batch; the first failure skips the
    /// rest, and rolls the batch back when its action validates.
    static func run(_ actions: [any SyncAction], context: ActionContext) -> [ActionResult] {
        var results: [ActionResult] = []
        for action in actions {
            if let failed = results.last, failed.outcome != .ok {
                results.append(
                    ActionResult(name: action.name, outcome: .skipped, summary: "skipped: \(failed.name) failed"))
                continue
            }
            let result = action.run(context)
            let level: Logger.Level = result.outcome == .ok ? .info : .error
            context.logger.log(
                level: level, "\(action.name): \(result.summary)", metadata: ["module": "\(context.module.name)"])
            results.append(result)
            if result.outcome != .ok, action.validates { context.undo() }
        }
        if let why = context.undo.failure {
            context.logger.critical(
                "rolling the batch back failed: \(why)", metadata: ["module": "\(context.module.name)"])
        }
        return results
    }
}

/// The parameters of an action spec, taken one by one so that a misspelt key is an error.
struct ActionParameters {
    let kind: String
    private var values: [String: ReceiverModule.ActionValue]
    let module: ReceiverModule

    init(kind: String, values: [String: ReceiverModule.ActionValue], module: ReceiverModule) {
        self.kind = kind
        self.values = values
        self.module = module
    }

    func error(_ message: String, hint: String? = nil) -> ConfigError {
        ConfigError("module '\(module.name)': on_sync \(kind): \(message)", at: module.location, hint: hint)
    }

    mutating func text(_ key: String) throws(ConfigError) -> String? {
        switch values.removeValue(forKey: key) {
        case nil: return nil
        case .text(let t): return t
        default: throw error("'\(key)' must be a string")
        }
    }

    mutating func list(_ key: String) throws(ConfigError) -> [String]? {
        switch values.removeValue(forKey: key) {
        case nil: return nil
        case .list(let l): return l
        case .text(let t): return [t]
        case .map(let m) where m.isEmpty: return []
        default: throw error("'\(key)' must be a list of strings")
        }
    }

    mutating func map(_ key: String) throws(ConfigError) -> [String: String]? {
        switch values.removeValue(forKey: key) {
        case nil: return nil
        case .map(let m): return m
        case .list(let l) where l.isEmpty: return [:]
        default: throw error("'\(key)' must be a table of NAME = value")
        }
    }

    mutating func seconds(_ key: String, default value: Double) throws(ConfigError) -> Double {
        switch values.removeValue(forKey: key) {
        case nil: return value
        case .number(let v) where v > 0 && v.isFinite: return v
        case .number(let v): throw error("'\(key)' must be a positive number of seconds, got \(v)")
        default: throw error("'\(key)' must be a number of seconds")
        }
    }

    mutating func flag(_ key: String, default value: Bool) throws(ConfigError) -> Bool {
        switch values.removeValue(forKey: key) {
        case nil: return value
        case .flag(let v): return v
        default: throw error("'\(key)' must be true or false")
        }
    }

    /// Every key was used: anything left is misspelt.
    func finish() throws(ConfigError) {
        if let key = values.keys.sorted().first {
            throw error("unknown key '\(key)'", hint: nil)
        }
    }
}
