import CLua

/// A Lua function kept alive in its state's registry, callable later with `LuaState.call`.
public final class LuaFunction {
    weak var state: LuaState?
    let reference: Int32

    init(state: LuaState, reference: Int32) {
        self.state = state
        self.reference = reference
    }

    deinit {
        state?.release(reference)
    }

    /// Where the function was defined (`file`, `line`), when it is a Lua function from a file.
    public var definedAt: (file: String, line: Int)? {
        guard let state else { return nil }
        lua_rawgeti(state.L, runner_lua_registryindex(), lua_Integer(reference))
        var source: UnsafePointer<CChar>?
        let line = runner_lua_functiondefined(state.L, -1, &source)
        runner_lua_pop(state.L, 1)
        guard line > 0, let source else { return nil }
        let s = String(cString: source)
        return s.hasPrefix("@") ? (String(s.dropFirst()), Int(line)) : nil
    }
}

@available(*, unavailable, message: "a LuaFunction belongs to the thread of its LuaState")
extension LuaFunction: Sendable {}
