/// A Lua value copied out of a Lua state into plain Swift.
///
/// Strings are bytes (Lua strings need not be UTF-8); `stringValue` decodes them.
/// Functions stay in the state as registry references (`LuaFunction`).
public enum LuaValue {
    case `nil`
    case boolean(Bool)
    case integer(Int64)
    case number(Double)
    case string([UInt8])
    case table(LuaTable)
    case function(LuaFunction)

    /// A Lua string value from Swift text.
    public static func text(_ s: String) -> LuaValue { .string(Array(s.utf8)) }

    /// The string decoded as UTF-8 (invalid bytes are replaced), or nil when not a string.
    public var stringValue: String? {
        if case .string(let bytes) = self { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }

    /// The value as a Lua number (integers widen), or nil.
    public var numberValue: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .number(let d): return d
        default: return nil
        }
    }

    /// Lua truthiness: everything but nil and false.
    public var isTruthy: Bool {
        switch self {
        case .nil: return false
        case .boolean(let b): return b
        default: return true
        }
    }

    /// The Lua type name, as `type()` would say it (integers and floats are "number").
    public var typeName: String {
        switch self {
        case .nil: return "nil"
        case .boolean: return "boolean"
        case .integer, .number: return "number"
        case .string: return "string"
        case .table: return "table"
        case .function: return "function"
        }
    }
}
