import LuaKit
import Pipeline
import RunnerSystem

extension ConfigLoader {
    func buildGroup(_ name: String, _ r: LuaTableReader) throws -> HostGroup {
        try r.checkKeys(ConfigSchema.group, allowArray: true)
        var targets: [TargetURI] = []
        for item in r.table.array {
            guard case .string = item, let text = item.stringValue else {
                throw ConfigError("\(r.what): targets must be strings, got \(item.typeName)", at: r.at)
            }
            do { targets.append(try TargetURI(parsing: text)) } catch {
                throw ConfigError(
                    "\(r.what): \(error.message)", at: index.locateLiteral(text, near: r.at) ?? r.at, hint: error.hint)
            }
        }
        if targets.isEmpty {
            throw ConfigError(
                "\(r.what) has no targets", at: r.at, hint: "group \"\(name)\" { \"runner://host/module\" }")
        }
        var group = HostGroup(name: name, targets: targets, vars: try vars(r), location: r.at)
        group.approve = try r.bool("approve") ?? false
        return group
    }

    /// `host "uri" { vars = { ... } }`: values of one target, beating its group's.
    func buildHost(_ name: String, _ r: LuaTableReader) throws -> HostVars {
        try r.checkKeys(ConfigSchema.host)
        let uri: TargetURI
        do { uri = try TargetURI(parsing: name) } catch {
            throw ConfigError("\(r.what): \(error.message)", at: r.at, hint: error.hint)
        }
        return HostVars(uri: uri, vars: try vars(r), location: r.at)
    }

    /// `vars = { NAME = value }`: strings, numbers and booleans, as text. `group` and `host`
    /// are built in and cannot be set.
    private func vars(_ r: LuaTableReader) throws -> [String: String] {
        guard let v = try r.table("vars", expected: "a table of NAME = value") else { return [:] }
        guard v.table.array.isEmpty else { throw r.error("vars", "'vars' must be a table of NAME = value") }
        var vars: [String: String] = [:]
        for (key, value) in v.table.fields {
            let name = key.description
            guard case .string = key, name.first.map({ $0.isLetter || $0 == "_" }) == true,
                name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
            else { throw v.error(name, "vars: '\(name)' is not a NAME (letters, digits, _)") }
            guard name != "group", name != "host" else {
                throw v.error(name, "vars: '\(name)' is built in and cannot be set")
            }
            switch value {
            case .string, .integer, .number, .boolean: vars[name] = value.stringValue ?? value.scalarText
            default: throw v.error(name, "vars.\(name) must be a string, number or boolean, got \(value.typeName)")
            }
        }
        return vars
    }

    func buildPipeline(_ name: String, _ r: LuaTableReader) throws -> PipelineConfig {
        guard let rawSource = try r.string("source") else {
            throw ConfigError("\(r.what): 'source' is missing", at: r.at, hint: "source = \"/path/to/watched/dir\"")
        }
        let (source, sourceFile) = try resolveSource(rawSource, what: r.what, at: r.at)
        let delay = try r.seconds("delay") ?? 0.2
        let maxDelay = try r.seconds("max_delay")
        if let maxDelay, maxDelay < delay {
            throw r.error("max_delay", "'max_delay' (\(maxDelay)) is less than 'delay' (\(delay))")
        }
        let scanInterval = try r.seconds("scan_interval") ?? 10
        guard scanInterval >= 0.05 else {
            throw r.error("scan_interval", "'scan_interval' must be at least 0.05 seconds")
        }

        var auth: PipelineConfig.Auth?
        if let a = try r.table("auth", expected: "a table { user = ..., secret_file = ... }") {
            try a.checkKeys(ConfigSchema.auth)
            guard let user = try a.string("user"), let secret = try a.string("secret_file") else {
                throw r.error("auth", "auth needs both 'user' and 'secret_file'")
            }
            auth = .init(user: user, secretFile: resolvePath(secret))
        }

        var rules: [IgnoreRule] = []
        switch r.table["ignore"] {
        case .nil: break
        case let v:
            try collectRules(v, pipeline: name, ruleSet: nil, into: &rules, at: r.line(of: "ignore"), what: r.what)
        }
        for key in ["check", "after", "on_group"] {
            switch r.table[key] {
            case .nil: break
            case .function(let f):
                switch key {
                case "check": hooks.checks[name] = f
                case "after": hooks.afters[name] = f
                default: hooks.onGroups[name] = f
                }
            case let v: throw r.wrongType(key, expected: "a function", got: v)
            }
        }

        var render: [IgnoreRule] = []
        switch r.table["render"] {
        case .nil: break
        case .function(let f): hooks.renders[name] = f
        case let v:
            guard let patterns = try r.strings("render") else {
                throw r.wrongType("render", expected: "patterns or a function", got: v)
            }
            for text in patterns {
                let rule = IgnoreRule.glob(
                    text, ruleSet: "render", location: index.locateLiteral(text, near: r.at) ?? r.line(of: "render"))
                _ = try Filter(rules: [rule])
                render.append(rule)
            }
        }

        var ssh = PipelineConfig.SSH()
        if let o = try r.table("ssh", expected: "a table { command = ..., runner = ..., receiver = ... }") {
            try o.checkKeys(ConfigSchema.ssh)
            if let command = try o.strings("command") {
                // One string is split at white space; a list is taken as it is.
                ssh.command =
                    command.count == 1 ? command[0].split(whereSeparator: \.isWhitespace).map(String.init) : command
                guard !ssh.command.isEmpty else { throw o.error("command", "ssh.command is empty") }
            }
            if let runner = try o.string("runner") { ssh.runner = runner }
            if let receiver = try o.string("receiver") { ssh.receiver = receiver }
        }

        var config = PipelineConfig(
            name: name, source: source, sourceFile: sourceFile, ignore: rules, delay: delay,
            maxDelay: maxDelay, scanInterval: scanInterval, destinations: try destinations(r),
            auth: auth, delete: try r.bool("delete") ?? false, hasCheck: hooks.checks[name] != nil,
            hasAfter: hooks.afters[name] != nil, location: r.at)
        config.ssh = ssh
        config.render = render
        config.hasRenderFunction = hooks.renders[name] != nil
        config.rollout = try rollout(r)
        if let n = try r.seconds("max_parallel") {
            guard n >= 1, n == n.rounded() else {
                throw r.error("max_parallel", "'max_parallel' must be a whole number >= 1")
            }
            config.maxParallel = Int(n)
        }
        if let n = try r.seconds("keep_revisions") {
            guard n >= 1, n == n.rounded(), n <= 1_000_000 else {
                throw r.error("keep_revisions", "'keep_revisions' must be a whole number from 1 to 1000000")
            }
            config.keepRevisions = Int(n)
        }
        config.approve = try approvals(r, config.destinations)
        config.massChangeGuard = try massChangeGuard(r)
        config.notify = try notify(r)
        for text in try r.strings("secret") ?? [] {
            let rule = IgnoreRule.glob(
                text, ruleSet: "secret", location: index.locateLiteral(text, near: r.at) ?? r.line(of: "secret"))
            _ = try Filter(rules: [rule])
            config.secret.append(rule)
        }
        config.hasOnGroup = hooks.onGroups[name] != nil
        config.numericIDs = try r.bool("numeric_ids") ?? false
        if let t = try r.seconds("timeout") {
            guard t > 0 else { throw r.error("timeout", "'timeout' must be a number of seconds > 0") }
            config.timeout = t
        }
        if let retry = try r.table("retry", expected: "a table { initial = 1, max = 60 }") {
            try retry.checkKeys(ConfigSchema.retry)
            config.retryInitial = try retry.seconds("initial") ?? config.retryInitial
            config.retryMax = try retry.seconds("max") ?? config.retryMax
            guard config.retryInitial > 0, config.retryMax >= config.retryInitial else {
                throw r.error("retry", "retry needs 0 < initial <= max")
            }
        }
        return config
    }

    /// `to`: target URIs and group names, groups expanded, in order, without duplicates.
    private func destinations(_ r: LuaTableReader) throws -> [PipelineConfig.Destination] {
        guard let to = try r.strings("to"), !to.isEmpty else {
            throw ConfigError(
                "\(r.what): 'to' is missing", at: r.at, hint: "to = { \"group-name\" } or to = \"file:///path\"")
        }
        var destinations: [PipelineConfig.Destination] = []
        for entry in to {
            let here = index.locateLiteral(entry, near: r.at) ?? r.at
            if entry.contains("://") {
                do {
                    let uri = try TargetURI(parsing: entry)
                    if !destinations.contains(where: { $0.uri == uri }) {
                        destinations.append(.init(uri: uri, group: nil, vars: vars(for: uri, in: nil)))
                    }
                } catch {
                    throw ConfigError("\(r.what): \(error.message)", at: here, hint: error.hint)
                }
            } else if let group = groups.first(where: { $0.name == entry }) {
                for uri in group.targets where !destinations.contains(where: { $0.uri == uri }) {
                    destinations.append(.init(uri: uri, group: group.name, vars: vars(for: uri, in: group)))
                }
            } else {
                let known = groups.map(\.name)
                throw ConfigError(
                    "\(r.what): 'to' names an undefined group '\(entry)'", at: here,
                    hint: ConfigError.suggestion(for: entry, among: known)
                        ?? (known.isEmpty
                            ? "declare it with group \"\(entry)\" { ... }" : "groups: \(known.joined(separator: ", "))")
                )
            }
        }
        return destinations
    }

    /// A destination's values: built-ins, then its group's, then its own.
    private func vars(for uri: TargetURI, in group: HostGroup?) -> [String: String] {
        var vars = ["group": group?.name ?? "", "host": uri.hostName]
        vars.merge(group?.vars ?? [:]) { $1 }
        vars.merge(hosts.first { $0.uri == uri }?.vars ?? [:]) { $1 }
        return vars
    }

    /// Flattens `ignore`: strings are globs, functions are predicates, tables are
    /// (possibly named) rule sets that nest.
    private func collectRules(
        _ value: LuaValue, pipeline: String, ruleSet: String?, into rules: inout [IgnoreRule],
        at: SourceLocation, what: String, depth: Int = 0
    ) throws {
        guard depth < 16 else { throw ConfigError("\(what): ignore rule sets nest too deeply", at: at) }
        switch value {
        case .string(let bytes):
            // Names are bytes: a pattern may hold bytes that are not UTF-8, and match them.
            let text = FileName.decode(bytes)
            let rule = IgnoreRule.glob(
                text, ruleSet: ruleSet, location: index.locateLiteral(text, near: ruleSet == nil ? at : nil) ?? at)
            _ = try Filter(rules: [rule])  // a pattern that cannot match is refused here, with its line
            rules.append(rule)
        case .function(let f):
            let defined = f.definedAt.map { SourceLocation(file: $0.file, line: $0.line) }
            let index = hooks.addPredicate(f, pipeline: pipeline)
            rules.append(
                IgnoreRule(matcher: .predicate(index: index), text: "function", ruleSet: ruleSet, location: defined))
        case .table(let t):
            var setName = ruleSet
            for (k, v) in t.fields {
                guard k.description == "name", case .string = v else {
                    throw ConfigError(
                        "\(what): an ignore rule set may only have a 'name' besides its list, found '\(k.description)'",
                        at: at)
                }
                setName = v.stringValue
            }
            for item in t.array {
                try collectRules(
                    item, pipeline: pipeline, ruleSet: setName, into: &rules, at: at, what: what, depth: depth + 1)
            }
        case let v:
            throw ConfigError(
                "\(what): an ignore rule must be a pattern string, a function or a list of them, got \(v.typeName)",
                at: at)
        }
    }
}
