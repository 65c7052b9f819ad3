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
