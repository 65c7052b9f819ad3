import LuaKit
import Pipeline
import RunnerSystem

/// A pipeline's keys of who gets a revision when, and who hears of it: `rollout`,
/// `approve`, `guard` and `notify`.
extension ConfigLoader {
    /// `approve = true` (every group of the pipeline) or `approve = { "regression" }`, and the
    /// groups declared with `approve = true`.
    func approvals(_ r: LuaTableReader, _ destinations: [PipelineConfig.Destination]) throws -> Set<String> {
        var names: [String] = []
        for d in destinations where !names.contains(d.group ?? "") { names.append(d.group ?? "") }
        var approve = Set(groups.filter { $0.approve && names.contains($0.name) }.map(\.name))
        switch r.table["approve"] {
        case .nil: break
        case .boolean(let all): if all { approve.formUnion(names) }
        default:
            guard let listed = try r.strings("approve") else { break }
            for name in listed {
                guard names.contains(name), !name.isEmpty else {
                    throw ConfigError(
                        "\(r.what): 'approve' names '\(name)', a group it does not send to",
                        at: index.locateLiteral(name, near: r.at) ?? r.line(of: "approve"),
                        hint: ConfigError.suggestion(for: name, among: names.filter { !$0.isEmpty })
                            ?? "its groups: \(names.filter { !$0.isEmpty }.joined(separator: ", "))")
                }
                approve.insert(name)
            }
        }
        return approve
    }

    /// `guard = { max_deleted = "20%", max_changed = 500 }`: a count, or a percentage of the tree.
    func massChangeGuard(_ r: LuaTableReader) throws -> MassChangeGuard? {
        guard let t = try r.table("guard", expected: "a table { max_deleted = \"20%\", max_changed = \"50%\" }") else {
            return nil
        }
        try t.checkKeys(ConfigSchema.massChangeGuard)
        func limit(_ key: String) throws -> MassChangeGuard.Limit? {
            switch t.table[key] {
            case .nil: return nil
            case .string:
                let text = t.table[key].stringValue ?? ""
                guard text.hasSuffix("%"), let p = Double(text.dropLast()), p >= 0, p <= 100 else {
                    throw t.error(key, "guard.\(key) must be a count or a percentage such as \"20%\", got \"\(text)\"")
                }
                return .percent(p)
            case let v:
                guard let n = v.numberValue, n >= 0, n == n.rounded(), n < 1e15 else {
                    throw t.wrongType(key, expected: "a whole count or a percentage such as \"20%\"", got: v)
                }
                return .count(Int(n))
            }
        }
        let g = MassChangeGuard(maxDeleted: try limit("max_deleted"), maxChanged: try limit("max_changed"))
        guard g.maxDeleted != nil || g.maxChanged != nil else {
            throw r.error("guard", "'guard' sets neither max_deleted nor max_changed")
        }
        return g
    }

    /// `notify = { webhook = "http://host:port/path", on = { "held", "failed", "applied", "waiting" } }`.
    func notify(_ r: LuaTableReader) throws -> NotifySettings? {
        guard let t = try r.table("notify", expected: "a table { webhook = \"http://…\", on = { \"held\" } }") else {
            return nil
        }
        try t.checkKeys(ConfigSchema.notify)
        guard let url = try t.string("webhook") else {
            throw r.error("notify", "notify needs a webhook = \"http://host:port/path\"")
        }
        guard WebhookURL(url) != nil else {
            throw t.error(
                "webhook",
                "notify.webhook must be http://host[:port]/path, got \"\(url)\" (no https: send it to a local relay)")
        }
        var on = Set(NotifySettings.Event.allCases)
        if let names = try t.strings("on") {
            on = []
            for name in names {
                guard let event = NotifySettings.Event(rawValue: name) else {
                    throw t.error(
                        "on",
                        "notify.on: unknown event '\(name)' (events: \(NotifySettings.Event.allCases.map(\.rawValue).joined(separator: ", ")))"
                    )
                }
                on.insert(event)
            }
        }
        return NotifySettings(webhook: url, on: on)
    }

    /// `rollout = "all" | "canary" | { canary = N, max_failures = 0, pause = 0 }`.
    func rollout(_ r: LuaTableReader) throws -> PipelineConfig.RolloutSettings {
        switch r.table["rollout"] {
        case .nil: return .all
        case .string:
            switch r.table["rollout"].stringValue {
            case "all": return .all
            case "canary": return .canary
            case let other:
                throw r.error("rollout", "'rollout' must be \"all\", \"canary\" or a table, got \"\(other ?? "")\"")
            }
        default:
            guard
                let t = try r.table(
                    "rollout", expected: "\"all\", \"canary\" or { canary = N, max_failures = 0, pause = 0 }")
            else {
                return .all
            }
            try t.checkKeys(ConfigSchema.rollout)
            func whole(_ key: String) throws -> Int? {
                guard let n = try t.seconds(key) else { return nil }
                guard n == n.rounded() else { throw t.error(key, "'\(key)' must be a whole number") }
                return Int(n)
            }
            return PipelineConfig.RolloutSettings(
                canaries: try whole("canary") ?? 1, maxFailures: try whole("max_failures") ?? 0,
                pause: try t.seconds("pause") ?? 0)
        }
    }
}
