/// Every key a script may set, table by table: its name, the Lua types it takes, its default,
/// an example and what it does. The one list behind the loader's checks (an unknown key, its
/// did-you-mean, a value of the wrong type), the `runner.exec{}`-style helpers and the
/// generated references `docs/pipeline.md` and `docs/receiver.md` (`runner keys`).
public enum ConfigSchema {
    /// The Lua types a key takes.
    public enum Shape: Sendable, Equatable {
        case string, number, boolean, table, function
        /// A string, or a list of strings.
        case strings
        /// Any of several shapes.
        indirect case either([Shape])

        /// As the reference and an error say it.
        public var described: String {
            switch self {
            case .string: return "string"
            case .number: return "number"
            case .boolean: return "boolean"
            case .table: return "table"
            case .function: return "function"
            case .strings: return "string or list of strings"
            case .either(let shapes): return shapes.map(\.described).joined(separator: " or ")
            }
        }
    }

    /// One key of a table.
    public struct Key: Sendable {
        public let name: String
        public let shape: Shape
        /// The default, as a script would write it; empty when there is none (required, or unset).
        public let defaultValue: String
        public let example: String
        public let doc: String
        /// The version it came with.
        public let since: String

        init(
            _ name: String, _ shape: Shape, _ defaultValue: String = "", example: String, since: String = "0.1.0",
            _ doc: String
        ) {
            self.name = name
            self.shape = shape
            self.defaultValue = defaultValue
            self.example = example
            self.doc = doc
            self.since = since
        }
    }

    /// One table a script writes (`settings { }`, `pipeline "name" { }`, an `on_sync` action).
    public struct Table: Sendable {
        /// As the script writes it: `settings`, `pipeline "NAME"`, `guard`, `{ kind = "exec" }`.
        public let name: String
        public let doc: String
        public let keys: [Key]

        /// The names of its keys.
        public var names: [String] { keys.map(\.name) }

        /// The key named `name`.
        public subscript(name: String) -> Key? { keys.first { $0.name == name } }
    }

    /// The tables of a sender's script, in the order the reference shows them.
    public static let pipelineTables: [Table] = [
        settings, group, host, pipeline, auth, ssh, retry, rollout, massChangeGuard, notify, coordination,
    ]
    /// The tables of a receiver's script.
    public static let receiverTables: [Table] = [settings, module, upstream, exec, signal, phpfpmReload]

    /// The table of an `on_sync` action kind, or nil for an unknown kind.
    public static func action(_ kind: String) -> Table? {
        switch kind {
        case "exec": return exec
        case "signal": return signal
        case "phpfpm.reload": return phpfpmReload
        default: return nil
        }
    }

    /// The action kinds an `on_sync` entry may name.
    public static let actionKinds = ["exec", "signal", "phpfpm.reload"]
}
