import CLua

/// Values between Swift and Lua, on a given thread's stack: raw accessors only, so no
/// metamethod can raise in the middle of Swift.
extension LuaState {
    func push(_ value: LuaValue, on T: OpaquePointer) throws {
        guard lua_checkstack(T, 3) != 0 else {
            throw LuaError(kind: .memory, file: nil, line: nil, message: "Lua stack overflow")
        }
        switch value {
        case .nil: lua_pushnil(T)
        case .boolean(let b): lua_pushboolean(T, b ? 1 : 0)
        case .integer(let i): lua_pushinteger(T, lua_Integer(i))
        case .number(let d): lua_pushnumber(T, d)
        case .string(let bytes):
            bytes.withUnsafeBufferPointer { buf in
                _ =
                    buf.baseAddress.map {
                        lua_pushlstring(T, UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self), buf.count)
                    }
                    ?? lua_pushlstring(T, "", 0)
            }
        case .table(let table):
            lua_createtable(T, Int32(table.array.count), Int32(table.fields.count))
            for (i, v) in table.array.enumerated() {
                try push(v, on: T)
                lua_rawseti(T, -2, lua_Integer(i + 1))
            }
            for (k, v) in table.fields {
                switch k {
                case .string(let b): try push(.string(b), on: T)
                case .integer(let i): lua_pushinteger(T, lua_Integer(i))
                case .number(let d): lua_pushnumber(T, d)
                case .boolean(let b): lua_pushboolean(T, b ? 1 : 0)
                }
                try push(v, on: T)
                lua_rawset(T, -3)
            }
        case .function(let f):
            precondition(f.state === self, "a LuaFunction can only be pushed on the state that made it")
            lua_rawgeti(T, runner_lua_registryindex(), lua_Integer(f.reference))
        }
    }

    func value(at index: Int32, on T: OpaquePointer) throws -> LuaValue {
        var visiting = Set<UnsafeRawPointer>()
        return try value(at: lua_absindex(T, index), on: T, visiting: &visiting)
    }

    private func value(at index: Int32, on T: OpaquePointer, visiting: inout Set<UnsafeRawPointer>) throws -> LuaValue {
        switch lua_type(T, index) {
        case LUA_TNIL, LUA_TNONE:
            return .nil
        case LUA_TBOOLEAN:
            return .boolean(lua_toboolean(T, index) != 0)
        case LUA_TNUMBER:
            if lua_isinteger(T, index) != 0 { return .integer(Int64(lua_tointegerx(T, index, nil))) }
            return .number(lua_tonumberx(T, index, nil))
        case LUA_TSTRING:
            var len = 0
            let p = runner_lua_tolstring(T, index, &len)!
            return .string(Array(UnsafeRawBufferPointer(start: p, count: len)))
        case LUA_TFUNCTION:
            lua_pushvalue(T, index)
            return .function(LuaFunction(state: self, reference: luaL_ref(T, runner_lua_registryindex())))
        case LUA_TTABLE:
            guard let identity = lua_topointer(T, index) else { return .table(LuaTable()) }
            guard visiting.insert(identity).inserted else {
                throw LuaError(
                    kind: .runtime, file: nil, line: nil,
                    message: "table refers to itself (a cycle cannot be converted)")
            }
            defer { visiting.remove(identity) }
            guard lua_checkstack(T, 4) != 0 else {
                throw LuaError(kind: .memory, file: nil, line: nil, message: "table nested too deeply")
            }
            var integerKeyed: [Int64: LuaValue] = [:]
            var table = LuaTable()
            lua_pushnil(T)
            while lua_next(T, index) != 0 {
                let v: LuaValue
                do { v = try value(at: lua_gettop(T), on: T, visiting: &visiting) } catch {
                    runner_lua_pop(T, 2)
                    throw error
                }
                switch lua_type(T, -2) {
                case LUA_TSTRING:
                    var len = 0
                    let p = runner_lua_tolstring(T, -2, &len)!
                    table.fields[.string(Array(UnsafeRawBufferPointer(start: p, count: len)))] = v
                case LUA_TNUMBER:
                    if lua_isinteger(T, -2) != 0 {
                        integerKeyed[Int64(lua_tointegerx(T, -2, nil))] = v
                    } else {
                        table.fields[.number(lua_tonumberx(T, -2, nil))] = v
                    }
                case LUA_TBOOLEAN:
                    table.fields[.boolean(lua_toboolean(T, -2) != 0)] = v
                default:
                    break  // tables, functions as keys: not part of any configuration
                }
                runner_lua_pop(T, 1)
            }
            var i: Int64 = 1
            while let v = integerKeyed.removeValue(forKey: i) {
                table.array.append(v)
                i += 1
            }
            for (k, v) in integerKeyed { table.fields[.integer(k)] = v }
            return .table(table)
        default:
            let name = String(cString: lua_typename(T, lua_type(T, index)))
            throw LuaError(kind: .runtime, file: nil, line: nil, message: "cannot use a \(name) value here")
        }
    }
}
