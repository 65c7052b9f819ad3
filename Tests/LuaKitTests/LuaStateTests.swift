import Foundation
import LuaKit
import TestSupport
import Testing

/// The bridge: protected calls, errors with file and line, and value conversion.
@Suite struct LuaStateTests {
    @Test func syntaxErrorNamesFileAndLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try dir.write("bad.lua", "local x = 1\nlocal y = = 2\n")
        let lua = LuaState()
        do {
            try lua.runFile(file)
            Issue.record("no error")
        } catch let error as LuaError {
            #expect(error.kind == .syntax)
            #expect(error.file == file)
            #expect(error.line == 2)
            #expect(error.message.contains("unexpected symbol"))
        }
        // The state is still usable after the error.
        #expect(try lua.run("return 1 + 1").first?.numberValue == 2)
    }

    @Test func callPastItsTimeoutIsStoppedAndTheStateStaysUsable() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try dir.write("loop.lua", "return function(n) if n then return n + 1 end while true do end end\n")
        let lua = LuaState()
        guard case .function(let f) = try lua.runFile(file).first ?? .nil else {
            Issue.record("no function returned")
            return
        }
        let started = Date()
        #expect { try lua.call(f, [], timeout: 0.2) } throws: { "\($0)".contains("timed out") }
        #expect(Date().timeIntervalSince(started) < 5)
        // The deadline is gone after the call: a slow call without one is not cut short.
        guard case .integer(2) = try lua.call(f, [.integer(1)]).first ?? .nil else {
            Issue.record("the state is not usable after a timeout")
            return
        }
    }

    @Test func allocationsPastTheBudgetAreALuaErrorAndTheStateStaysUsable() throws {
        let lua = LuaState(memoryLimit: 8 << 20)
        #expect { try lua.run("local s = string.rep('x', 16 << 20)") } throws: { error in
            (error as? LuaError)?.kind == .memory
        }
        #expect { try lua.run("local t = {} for i = 1, 1e9 do t[i] = i end") } throws: { error in
            (error as? LuaError)?.kind == .memory
        }
        guard case .integer(1 << 20) = try lua.run("return #string.rep('x', 1 << 20)").first ?? .nil else {
            Issue.record("the state is not usable after running out of its budget")
            return
        }
    }

    @Test func runtimeErrorInsideACallbackNamesFileAndLineAndHasATraceback() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try dir.write("cb.lua", "return function(t)\n  local n = nil\n  return n.field\nend\n")
        let lua = LuaState()
        guard case .function(let f) = try lua.runFile(file).first ?? .nil else {
            Issue.record("no function returned")
            return
        }
        do {
            try lua.call(f, [.table(LuaTable())])
            Issue.record("no error")
        } catch let error as LuaError {
            #expect(error.kind == .runtime)
            #expect(error.file == file && error.line == 3)
            #expect(error.message.contains("attempt to index"))
            #expect(error.traceback?.contains("stack traceback:") == true)
        }
    }

    @Test func errorRaisedInASwiftFunctionCrossesNoSwiftFrameAndNamesTheCaller() throws {
        struct Boom: Error, CustomStringConvertible { var description: String { "boom from Swift" } }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try dir.write("call.lua", "local ok = 1\nexplode()\n")
        let lua = LuaState()
        var calls = 0
        try lua.register("explode") { _ in
            calls += 1
            throw Boom()
        }
        #expect(throws: Boom.self) { try lua.runFile(file) }
        // Caught inside Lua, the same error is an ordinary Lua error with the caller's place.
        let caught = try lua.run("local ok, e = pcall(function() explode() end); return ok, e", name: "@inline.lua")
        #expect(caught.first?.isTruthy == false)
        #expect(caught.last?.stringValue == "inline.lua:1: boom from Swift")
        #expect(calls == 2)
        #expect(try lua.run("return 'alive'").first?.stringValue == "alive")
    }

    @Test func valuesConvertBothWays() throws {
        let lua = LuaState()
        let results = try lua.run(
            """
            return nil, true, 42, 1.5, "caf\\xC3\\xA9\\xFF", { 10, 20, 30, key = "v", [100] = "sparse" }, function() end
            """)
        #expect(results.count == 7)
        guard case .nil = results[0] else { Issue.record("nil"); return }
        guard case .boolean(true) = results[1] else { Issue.record("bool"); return }
        guard case .integer(42) = results[2] else { Issue.record("integer"); return }
        guard case .number(1.5) = results[3] else { Issue.record("number"); return }
        // Strings are bytes: invalid UTF-8 survives.
        guard case .string(let bytes) = results[4] else { Issue.record("string"); return }
        #expect(bytes == [0x63, 0x61, 0x66, 0xC3, 0xA9, 0xFF])
        guard case .table(let t) = results[5] else { Issue.record("table"); return }
        #expect(t.array.compactMap(\.numberValue) == [10, 20, 30])
        #expect(t["key"].stringValue == "v")
        #expect(t.fields[.integer(100)]?.stringValue == "sparse")
        guard case .function = results[6] else { Issue.record("function"); return }

        // Swift -> Lua -> Swift.
        try lua.setGlobal("fromSwift", results[5])
        #expect(try lua.run("return fromSwift.key .. #fromSwift").first?.stringValue == "v3")
        try lua.setGlobal("raw", .string([0x00, 0xFF, 0x41]))
        #expect(try lua.run("return #raw").first?.numberValue == 3)
    }

    @Test func functionsAreKeptAndCallableLater() throws {
        let lua = LuaState()
        let made = try lua.run("local n = 0; return function(step) n = n + step; return n end")
        guard case .function(let counter) = made.first ?? .nil else { Issue.record("no function"); return }
        _ = try lua.run("collectgarbage()")
        #expect(try lua.call(counter, [.integer(2)]).first?.numberValue == 2)
        #expect(try lua.call(counter, [.integer(3)]).first?.numberValue == 5)
    }

    @Test func cyclicTablesAreAnErrorNotACrash() throws {
        let lua = LuaState()
        #expect(throws: LuaError.self) { try lua.run("local t = {}; t.self = t; return t") }
    }
}
