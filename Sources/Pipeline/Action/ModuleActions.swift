import Logging
import RunnerSystem

/// Builds and runs a module's actions.
enum ModuleActions {
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
                        hint: ConfigError.suggestion(for: kind, among: ConfigSchema.actionKinds))
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
            let started = MonotonicClock.now
            var result = action.run(context)
            result.seconds = MonotonicClock.now - started
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
