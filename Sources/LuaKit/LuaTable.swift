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
