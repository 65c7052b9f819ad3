/// The parameters of an action spec, taken one by one so that a misspelt key is an error.
struct ActionParameters {
    let kind: String
    private var values: [String: ReceiverModule.ActionValue]
    let module: ReceiverModule

    init(kind: String, values: [String: ReceiverModule.ActionValue], module: ReceiverModule) {
        self.kind = kind
        self.values = values
        self.module = module
    }

    func error(_ message: String, hint: String? = nil) -> ConfigError {
        ConfigError("module '\(module.name)': on_sync \(kind): \(message)", at: module.location, hint: hint)
    }

    mutating func text(_ key: String) throws(ConfigError) -> String? {
        switch values.removeValue(forKey: key) {
        case nil: return nil
        case .text(let t): return t
        default: throw error("'\(key)' must be a string")
        }
    }

    mutating func list(_ key: String) throws(ConfigError) -> [String]? {
        switch values.removeValue(forKey: key) {
        case nil: return nil
        case .list(let l): return l
        case .text(let t): return [t]
        case .map(let m) where m.isEmpty: return []
        default: throw error("'\(key)' must be a list of strings")
        }
    }

    mutating func map(_ key: String) throws(ConfigError) -> [String: String]? {
        switch values.removeValue(forKey: key) {
        case nil: return nil
        case .map(let m): return m
        case .list(let l) where l.isEmpty: return [:]
        default: throw error("'\(key)' must be a table of NAME = value")
        }
    }

    mutating func seconds(_ key: String, default value: Double) throws(ConfigError) -> Double {
        switch values.removeValue(forKey: key) {
        case nil: return value
        case .number(let v) where v > 0 && v.isFinite: return v
        case .number(let v): throw error("'\(key)' must be a positive number of seconds, got \(v)")
        default: throw error("'\(key)' must be a number of seconds")
        }
    }

    mutating func flag(_ key: String, default value: Bool) throws(ConfigError) -> Bool {
        switch values.removeValue(forKey: key) {
        case nil: return value
        case .flag(let v): return v
        default: throw error("'\(key)' must be true or false")
        }
    }

    /// Every key was used: anything left is misspelt.
    func finish() throws(ConfigError) {
        if let key = values.keys.sorted().first {
            let known = ConfigSchema.action(kind)?.names ?? []
            throw error(
                "unknown key '\(key)'",
                hint: ConfigError.suggestion(for: key, among: known) ?? "known keys: \(known.joined(separator: ", "))")
        }
    }
}
