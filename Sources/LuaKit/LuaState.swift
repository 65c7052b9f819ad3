import CLua
import FoundationEssentials

/// The owner of one Lua 5.4 state.
///
/// Every call into Lua is protected (`lua_pcall` with a traceback handler) and Lua
/// errors come back as thrown `LuaError`s. Swift functions exposed to Lua run
/// behind a C trampoline: they report failure by throwing, and the trampoline raises
/// the Lua error after the Swift frame has returned, so `lua_error`'s longjmp never
/// crosses Swift code. While converting values, only raw accessors (`lua_rawget`,
/// `lua_next`) are used, so no metamethod can raise in the middle of Swift.
///
/// The state is confined to the thread that created it: it is not `Sendable`.
public final class LuaState {
    /// A Swift function callable from Lua: arguments in, results out; a thrown error becomes a Lua error.
    public typealias SwiftFunction = (LuaCall) throws -> [LuaValue]

    let L: OpaquePointer
    private var functions: [Int64: SwiftFunction] = [:]
    private var nextFunctionID: Int64 = 1
    /// The Swift error behind the Lua error currently unwinding, so that typed errors
    /// (configuration errors with their own location) survive the trip through Lua.
    private var pendingError: (message: String, error: any Error)?
    /// Source text of every chunk this state loaded from a file, by display path.
    public private(set) var loadedSources: [(path: String, text: String)] = []

    /// What the state's allocations may add up to.
    private let budget: UnsafeMutablePointer<runner_lua_budget>

    /// A fresh state with the standard libraries open, whose allocations may add up to
    /// `memoryLimit` bytes (past it, an allocation is a Lua "not enough memory" error).
    public init(memoryLimit: Int = 512 << 20) {
        budget = .allocate(capacity: 1)
        budget.initialize(to: runner_lua_budget(used: 0, limit: memoryLimit))
        guard let L = runner_lua_newstate(budget) else { fatalError("lua: out of memory creating a state") }
        self.L = L
        luaL_openlibs(L)
        runner_lua_extraspace(L).pointee = Unmanaged.passUnretained(self).toOpaque()
        installSearcher()
    }

    deinit {
        lua_close(L)
        budget.deallocate()
    }

    // MARK: Running code

    /// Loads and runs a Lua file; returns what the chunk returned. With a `timeout`
    /// (seconds), a chunk still running after it is stopped: a `LuaError` of kind `.timeout`.
    @discardableResult
    public func runFile(_ path: String, timeout: Double? = nil) throws -> [LuaValue] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LuaError(kind: .file, file: path, line: nil, message: "cannot read file")
        }
        loadedSources.append((path, String(decoding: data, as: UTF8.self)))
        try load(data: data, chunkName: "@" + path)
        return try withDeadline(timeout) { try protectedCall(nargs: 0) }
    }

    /// Loads and runs Lua source text under a chunk name (shown in errors).
    @discardableResult
    public func run(_ source: String, name: String = "=(string)") throws -> [LuaValue] {
        try load(data: Data(source.utf8), chunkName: name)
        return try protectedCall(nargs: 0)
    }

    /// Calls a Lua function with arguments; returns its results. With a `timeout`
    /// (seconds), Lua code still running after it is stopped: a `LuaError` of kind `.timeout`.
    @discardableResult
    public func call(_ function: LuaFunction, _ arguments: [LuaValue] = [], timeout: Double? = nil) throws -> [LuaValue]
    {
        precondition(function.state === self, "a LuaFunction can only be called on the state that made it")
        guard lua_checkstack(L, Int32(arguments.count) + 2) != 0 else {
            throw LuaError(kind: .memory, file: nil, line: nil, message: "Lua stack overflow")
        }
        lua_rawgeti(L, runner_lua_registryindex(), lua_Integer(function.reference))
        for a in arguments { try push(a, on: L) }
        return try withDeadline(timeout) { try protectedCall(nargs: Int32(arguments.count)) }
    }

    /// Runs `body` with Lua code stopped `timeout` seconds from now (nil: never).
    private func withDeadline(_ timeout: Double?, _ body: () throws -> [LuaValue]) throws -> [LuaValue] {
        guard let timeout else { return try body() }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        runner_lua_setdeadline(L, Double(now.tv_sec) + Double(now.tv_nsec) / 1e9 + timeout)
        defer { runner_lua_setdeadline(L, 0) }
        do {
            return try body()
        } catch var error as LuaError where runner_lua_timedout(L) != 0 {
            error.kind = .timeout
            throw error
        }
    }

    private func load(data: Data, chunkName: String) throws {
        let status = data.withUnsafeBytes { buf in
            runner_lua_loadbuffer(L, buf.baseAddress?.assumingMemoryBound(to: CChar.self), buf.count, chunkName)
        }
        if status != LUA_OK {
            let message = popString()
            throw LuaError(kind: status == LUA_ERRSYNTAX ? .syntax : .memory, raw: message)
        }
    }

    /// Runs the function below `nargs` arguments on the stack, protected.
    private func protectedCall(nargs: Int32) throws -> [LuaValue] {
        let base = lua_gettop(L) - nargs - 1
        pendingError = nil
        let status = runner_lua_pcall(L, nargs, LUA_MULTRET)
        if status != LUA_OK {
            let message = popString()
            if let pending = pendingError, message.hasPrefix(pending.message) {
                pendingError = nil
                throw pending.error
            }
            throw LuaError(kind: status == LUA_ERRMEM ? .memory : .runtime, raw: message)
        }
        defer { lua_settop(L, base) }
        var results: [LuaValue] = []
        let top = lua_gettop(L)
        if top > base {
            for i in (base + 1)...top { results.append(try value(at: i, on: L)) }
        }
        return results
    }

    private func popString() -> String {
        var len = 0
        let s: String
        if let p = runner_lua_tolstring(L, -1, &len) {
            s = String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
        } else {
            s = "(error object is not a string)"
        }
        runner_lua_pop(L, 1)
        return s
    }

    // MARK: Globals and Swift functions

    /// Sets a global variable.
    public func setGlobal(_ name: String, _ value: LuaValue) throws {
        try push(value, on: L)
        lua_setglobal(L, name)
    }

    /// Reads a global variable.
    public func global(_ name: String) throws -> LuaValue {
        lua_getglobal(L, name)
        defer { runner_lua_pop(L, 1) }
        return try value(at: -1, on: L)
    }

    /// Wraps a Swift closure as a Lua function value.
    public func function(_ body: @escaping SwiftFunction) -> LuaValue {
        let id = nextFunctionID
        nextFunctionID += 1
        functions[id] = body
        runner_lua_pushswiftfunction(L, luaSwiftDispatch, lua_Integer(id))
        let ref = luaL_ref(L, runner_lua_registryindex())
        return .function(LuaFunction(state: self, reference: ref))
    }

    /// Registers a global Swift function.
    public func register(_ name: String, _ body: @escaping SwiftFunction) throws {
        try setGlobal(name, function(body))
    }

    /// Sets `package.path` to `dir/?.lua;dir/?/init.lua` for each directory, in order.
    public func setPackagePath(_ directories: [String]) {
        let path = directories.flatMap { ["\($0)/?.lua", "\($0)/?/init.lua"] }.joined(separator: ";")
        lua_getglobal(L, "package")
        lua_pushstring(L, path)
        lua_setfield(L, -2, "path")
        runner_lua_pop(L, 1)
    }

    /// Replaces Lua's file searcher with one that also records the source text, so
    /// rules written in plugins can be traced to their file and line.
    private func installSearcher() {
        let searcher = function { [unowned self] call in
            guard let name = call.arguments.first?.stringValue else { return [.nil] }
            let T = call.thread
            lua_getglobal(T, "package")
            lua_getfield(T, -1, "path")
            let path = lua_tolstring(T, -1, nil).map { String(cString: $0) } ?? ""
            runner_lua_pop(T, 2)
            var tried: [String] = []
            for template in path.split(separator: ";") {
                let file = String(template).replacing("?", with: name.replacing(".", with: "/"))
                guard let data = FileManager.default.contents(atPath: file) else {
                    tried.append("\n\tno file '\(file)'")
                    continue
                }
                self.loadedSources.append((file, String(decoding: data, as: UTF8.self)))
                try self.load(data: data, chunkName: "@" + file)
                let ref = luaL_ref(self.L, runner_lua_registryindex())
                return [.function(LuaFunction(state: self, reference: ref)), .text(file)]
            }
            return [.text(tried.joined())]
        }
        lua_getglobal(L, "package")
        lua_getfield(L, -1, "searchers")
        try? push(searcher, on: L)
        lua_rawseti(L, -2, 2)
        runner_lua_pop(L, 2)
    }

    /// Called by the C trampoline for every Swift function call from Lua.
    fileprivate func dispatch(_ T: OpaquePointer) -> Int32 {
        let id = lua_tointegerx(T, runner_lua_upvalueindex(2), nil)
        guard let body = functions[id] else {
            lua_pushstring(T, "runner: Swift function \(id) is gone")
            return -1
        }
        do {
            var args: [LuaValue] = []
            let n = lua_gettop(T)
            if n > 0 { for i in 1...n { args.append(try value(at: i, on: T)) } }
            let call = LuaCall(state: self, thread: T, arguments: args)
            let results = try body(call)
            guard lua_checkstack(T, Int32(results.count) + 1) != 0 else {
                throw LuaError(kind: .memory, file: nil, line: nil, message: "Lua stack overflow")
            }
            for r in results { try push(r, on: T) }
            return Int32(results.count)
        } catch {
            let message: String
            if let luaError = error as? LuaError {
                message = luaError.description
            } else if error is any LocatedError {
                message = String(describing: error)
            } else {
                // A plain Swift error gets the caller's position, as luaL_error would add it.
                let here = LuaCall(state: self, thread: T, arguments: []).callerLocation
                message = here.map { "\($0.file):\($0.line): \(error)" } ?? "\(error)"
            }
            pendingError = (message, error)
            lua_pushstring(T, message)
            return -1
        }
    }

    func release(_ reference: Int32) {
        luaL_unref(L, runner_lua_registryindex(), reference)
    }
}

@available(*, unavailable, message: "a LuaState is confined to one thread")
extension LuaState: Sendable {}

/// The C entry point behind every Swift function: finds the state and the closure.
private func luaSwiftDispatch(_ T: OpaquePointer?) -> Int32 {
    guard let T, let raw = runner_lua_extraspace(T).pointee else { return 0 }
    return Unmanaged<LuaState>.fromOpaque(raw).takeUnretainedValue().dispatch(T)
}
