import LuaKit
import Pipeline

/// Reads one declaration's table (`pipeline "p" { ... }`) into typed values: numbers stay
/// numbers, a value of the wrong type is an error naming the key's line, and a key the
/// engine does not know, or does not implement yet, is refused rather than ignored.
struct LuaTableReader {
    let table: LuaTable
    /// How errors name the declaration: `pipeline 'php-env'`.
    let what: String
    /// Where the declaration starts.
    let at: SourceLocation
    let index: SourceIndex

    /// The line of `key` inside the declaration (its start when it cannot be found).
    func line(of key: String) -> SourceLocation { index.locateKey(key, after: at) }

    /// An error about `key`, at its line.
    func error(_ key: String, _ message: String, hint: String? = nil) -> ConfigError {
        ConfigError("\(what): \(message)", at: line(of: key), hint: hint)
    }

    /// Refuses keys `schema` does not list (with the nearest known name), a value of a type
    /// the key does not take, and list items unless `allowArray`.
    func checkKeys(_ schema: ConfigSchema.Table, allowArray: Bool = false) throws {
        for key in table.fields.keys.sorted(by: { $0.description < $1.description }) {
            guard case .string = key else { throw ConfigError("\(what): unexpected key [\(key.description)]", at: at) }
            let name = key.description
            guard let known = schema[name] else {
                throw error(
                    name, "unknown key '\(name)'",
                    hint: ConfigError.suggestion(for: name, among: schema.names)
                        ?? "known keys: \(schema.names.joined(separator: ", "))")
            }
            let value = table[name]
            guard Self.fits(value, known.shape) else {
                throw wrongType(name, expected: "a \(known.shape.described)", got: value)
            }
        }
        if !allowArray && !table.array.isEmpty {
            throw ConfigError(
                "\(what): unexpected list items (\(table.array.count)); only key = value entries belong here", at: at)
        }
    }

    /// Whether a Lua value is of a shape a key takes (what is inside a table is the key's
    /// own reader's to check).
    static func fits(_ value: LuaValue, _ shape: ConfigSchema.Shape) -> Bool {
        switch (shape, value) {
        case (.string, .string), (.boolean, .boolean), (.table, .table), (.function, .function): return true
        case (.number, .integer), (.number, .number): return true
        case (.strings, .string), (.strings, .table): return true
        case (.either(let shapes), _): return shapes.contains { fits(value, $0) }
        default: return false
        }
    }

    func wrongType(_ key: String, expected: String, got value: LuaValue) -> ConfigError {
        error(key, "'\(key)' must be \(expected), got \(value.typeName)")
    }

    func string(_ key: String) throws -> String? {
        switch table[key] {
        case .nil: return nil
        case .string: return table[key].stringValue
        case let v: throw wrongType(key, expected: "a string", got: v)
        }
    }

    /// A number of seconds, zero or more.
    func seconds(_ key: String) throws -> Double? {
        switch table[key] {
        case .nil: return nil
        case let v:
            guard let d = v.numberValue else { throw wrongType(key, expected: "a number", got: v) }
            guard d.isFinite, d >= 0 else { throw error(key, "'\(key)' must be a number of seconds >= 0") }
            return d
        }
    }

    func bool(_ key: String) throws -> Bool? {
        switch table[key] {
        case .nil: return nil
        case .boolean(let b): return b
        case let v: throw wrongType(key, expected: "true or false", got: v)
        }
    }

    /// A string, or a list of strings.
    func strings(_ key: String) throws -> [String]? {
        switch table[key] {
        case .nil: return nil
        case .string: return [table[key].stringValue!]
        case .table(let list):
            guard list.fields.isEmpty else { throw wrongType(key, expected: "a list of strings", got: .table(list)) }
            return try list.array.map { v in
                guard case .string = v else { throw wrongType(key, expected: "a list of strings", got: v) }
                return v.stringValue!
            }
        case let v: throw wrongType(key, expected: "a string or a list of strings", got: v)
        }
    }

    /// A nested table read the same way (`auth = { ... }`), or nil when absent.
    func table(_ key: String, expected: String) throws -> LuaTableReader? {
        switch table[key] {
        case .nil: return nil
        case .table(let t): return LuaTableReader(table: t, what: "\(what) \(key)", at: line(of: key), index: index)
        case let v: throw wrongType(key, expected: expected, got: v)
        }
    }
}
