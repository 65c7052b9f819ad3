import LuaKit
import Pipeline
import RunnerSystem

extension ConfigLoader {
    func buildModule(_ name: String, _ r: LuaTableReader) throws -> ReceiverModule {
        guard TargetURI.isValidModuleName(name) else {
            throw ConfigError("\(r.what): a module name must be letters, digits, '.', '_' or '-'", at: r.at)
        }
        try r.checkKeys(ConfigSchema.module)
        guard let path = try r.string("path") else {
            throw ConfigError("\(r.what): 'path' is missing", at: r.at, hint: "path = \"/served/directory\"")
        }
        var module = ReceiverModule(
            name: name, path: resolvePath(path), authUsers: try r.strings("auth_users") ?? [],
            secrets: try r.string("secrets").map(resolvePath),
            hostsAllow: try addressRules(r, "hosts_allow"), hostsDeny: try addressRules(r, "hosts_deny"),
            readOnly: try r.bool("read_only") ?? false,
            onSync: try actions(name, r), location: r.at)
        module.fsync = try r.bool("fsync") ?? false
        if let when = try r.string("on_sync_when") {
            guard when == "changed" || when == "always" else {
                throw r.error(
                    "on_sync_when", "on_sync_when must be \"changed\" (the default) or \"always\", got '\(when)'")
            }
            module.onSyncAlways = when == "always"
        }
        if let policy = try r.string("symlinks") {
            let names = ReceiverModule.SymlinkPolicy.allCases.map(\.rawValue)
            guard let parsed = ReceiverModule.SymlinkPolicy(rawValue: policy) else {
                throw r.error(
                    "symlinks",
                    "symlinks must be \(names.map { "\"\($0)\"" }.joined(separator: ", ")), got '\(policy)'",
                    hint: ConfigError.suggestion(for: policy, among: names))
            }
            module.symlinks = parsed
        }
        if let owner = try r.string("owner") {
            guard let uid = UserDatabase.uid(parsing: owner) else {
                throw r.error("owner", "owner '\(owner)' is no user of this host (a name in /etc/passwd, or a number)")
            }
            module.owner = uid
        }
        if let group = try r.string("group") {
            guard let gid = UserDatabase.gid(parsing: group) else {
                throw r.error("group", "group '\(group)' is no group of this host (a name in /etc/group, or a number)")
            }
            module.group = gid
        }
        module.upstream = try upstream(r)
        switch r.table["function_timeout"] {
        case .nil: break
        case let v:
            guard let seconds = v.numberValue, seconds > 0 else {
                throw r.wrongType("function_timeout", expected: "a positive number of seconds", got: v)
            }
            module.functionTimeout = seconds
        }
        return module
    }

    /// `upstream = { url, name, secret_file }`, each checked at its line; the secret file too.
    private func upstream(_ r: LuaTableReader) throws -> ReceiverModule.Upstream? {
        let example = "{ url = \"runner://sender:8731/pipeline\", name = \"web-f1\", secret_file = \"…\" }"
        guard let t = try r.table("upstream", expected: "a table \(example)") else { return nil }
        try t.checkKeys(ConfigSchema.upstream)
        guard let text = try t.string("url"), let name = try t.string("name"), let file = try t.string("secret_file")
        else { throw r.error("upstream", "upstream needs url, name and secret_file: \(example)") }
        let url: TargetURI
        do { url = try TargetURI(parsing: text) } catch { throw t.error("url", "upstream.url: \(error.message)") }
        guard case .runner = url else {
            throw t.error(
                "url", "upstream.url must be runner://HOST:PORT/PIPELINE (the sender's listen address), got \(url)")
        }
        guard TargetURI.isValidModuleName(name) else {
            throw t.error("name", "upstream.name '\(name)' must be letters, digits, '.', '_' or '-'")
        }
        let secretFile = resolvePath(file)
        _ = try SecretsFile.readSenderSecret(secretFile, user: name, at: t.at)
        return ReceiverModule.Upstream(url: url, name: name, secretFile: secretFile)
    }

    /// `on_sync`: action tables (`{ kind = "exec", ... }`) and Lua functions, in order.
    private func actions(_ module: String, _ r: LuaTableReader) throws -> [ReceiverModule.Action] {
        var actions: [ReceiverModule.Action] = []
        switch r.table["on_sync"] {
        case .nil: break
        case .table(let list):
            for item in list.array {
                switch item {
                case .function(let f):
                    let number = hooks.addModuleAction(f, module: module)
                    actions.append(
                        .function(index: number, f.definedAt.map { SourceLocation(file: $0.file, line: $0.line) }))
                case .table(let spec):
                    guard let kind = spec["kind"].stringValue else {
                        throw r.error("on_sync", "an on_sync action table needs a 'kind'")
                    }
                    var parameters: [String: ReceiverModule.ActionValue] = [:]
                    for (k, v) in spec.fields where k.description != "kind" {
                        parameters[k.description] = try actionValue(v, key: k.description, kind: kind, r)
                    }
                    actions.append(.spec(kind: kind, parameters: parameters))
                default:
                    throw r.error("on_sync", "on_sync entries must be actions or functions, got \(item.typeName)")
                }
            }
        case let v: throw r.wrongType("on_sync", expected: "a list of actions", got: v)
        }
        return actions
    }

    /// A parameter of an action spec, its Lua type kept: numbers stay numbers.
    private func actionValue(_ v: LuaValue, key: String, kind: String, _ r: LuaTableReader) throws
        -> ReceiverModule.ActionValue
    {
        switch v {
        case .integer, .number: return .number(v.numberValue!)
        case .boolean(let b): return .flag(b)
        case .table(let t) where t.fields.isEmpty: return .list(t.array.map { $0.stringValue ?? $0.scalarText })
        case .table(let t) where t.array.isEmpty:
            var map: [String: String] = [:]
            for (mk, mv) in t.fields { map[mk.description] = mv.stringValue ?? mv.scalarText }
            return .map(map)
        case .table: throw r.error("on_sync", "on_sync \(kind): '\(key)' mixes a list and NAME = value pairs")
        default: return .text(v.stringValue ?? v.scalarText)
        }
    }

    /// `hosts_allow` / `hosts_deny`, parsed here so that a bad rule is an error with its line.
    private func addressRules(_ r: LuaTableReader, _ key: String) throws -> [AddressRule] {
        var rules: [AddressRule] = []
        for text in try r.strings(key) ?? [] {
            do { rules.append(try AddressRule(parsing: text)) } catch {
                throw ConfigError(
                    "\(r.what): \(key): \(error.message)", at: index.locateLiteral(text, near: r.at) ?? r.at,
                    hint: error.hint)
            }
        }
        return rules
    }
}
