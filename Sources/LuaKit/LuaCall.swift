import CLua

/// One call from Lua into a Swift function: its arguments and where it was called from.
public struct LuaCall {
    /// The state that made the call.
    public let state: LuaState
    let thread: OpaquePointer
    /// The arguments, converted.
    public let arguments: [LuaValue]

    init(state: LuaState, thread: OpaquePointer, arguments: [LuaValue]) {
        self.state = state
        self.thread = thread
        self.arguments = arguments
    }

    /// File and line of the Lua code that called this function, when it came from a file.
    public var callerLocation: (file: String, line: Int)? { location(level: 1) }

    /// File and line `level` frames up (1: the caller; 2: its caller, as `error(msg, 2)`).
    public func location(level: Int32) -> (file: String, line: Int)? {
        var source: UnsafePointer<CChar>?
        let line = runner_lua_where(thread, level, &source)
        guard line > 0, let source else { return nil }
        let s = String(cString: source)
        return s.hasPrefix("@") ? (String(s.dropFirst()), Int(line)) : nil
    }
}
