import RunnerSystem

/// A Lua function in `on_sync`: called with the batch (`{ module =, paths = { ... } }`);
/// returning false (or false, "why") or raising an error rolls the batch back.
struct LuaAction: SyncAction {
    let index: Int
    let location: SourceLocation?
    let hooks: ActionHooks?

    var name: String { "lua function" + (location.map { " (\($0))" } ?? "") }
    var validates: Bool { true }

    func run(_ context: ActionContext) -> ActionResult {
        guard let hooks else { return ActionResult(name: name, outcome: .failed, summary: "no Lua state to run it in") }
        let timeout = context.module.functionTimeout
        do {
            switch try hooks.runAction(
                module: context.module.name, index: index, paths: context.paths, timeout: timeout)
            {
            case .ok: return ActionResult(name: name, outcome: .ok, summary: "ok")
            case .refused(let why): return ActionResult(name: name, outcome: .failed, summary: why)
            case .timedOut:
                return ActionResult(
                    name: name, outcome: .timedOut, summary: "timed out after \(MonotonicClock.text(seconds: timeout))")
            }
        } catch {
            return ActionResult(name: name, outcome: .failed, summary: "\(error)")
        }
    }

    func problems() -> [String] { [] }
}
