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

/// A key of a Lua table's hash part.
public enum LuaKey: Hashable {
    case string([UInt8])
    case integer(Int64)
    case number(Double)
    case boolean(Bool)

    /// The key as text, for messages.
    public var description: String {
        switch self {
        case .string(let b): return String(decoding: b, as: UTF8.self)
        case .integer(let i): return String(i)
        case .number(let d): return String(d)
        case .boolean(let b): return String(b)
        }
    }
}

/// A Lua table copied into Swift: the sequence part `1...n` and the other keys.
public struct LuaTable {
    /// Values at keys 1, 2, ... n with no holes.
    public var array: [LuaValue] = []
    /// Every other key, in no particular order.
    public var fields: [LuaKey: LuaValue] = [:]

    /// An empty table.
    public init() {}

    /// The value at a string key, or `.nil`.
    public subscript(_ key: String) -> LuaValue {
        get { fields[.string(Array(key.utf8))] ?? .nil }
        set {
            if case .nil = newValue {
                fields[.string(Array(key.utf8))] = nil
            } else {
                fields[.string(Array(key.utf8))] = newValue
            }
        }
    }

    /// The string keys of the hash part, sorted (for stable messages).
    public var stringKeys: [String] {
        fields.keys.compactMap {
            if case .string(let b) = $0 { return String(decoding: b, as: UTF8.self) } else { return nil }
        }.sorted()
    }
}
