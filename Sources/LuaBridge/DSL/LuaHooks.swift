import LuaKit
import Pipeline
import RunnerSystem

/// The Lua side of a pipeline's callbacks: ignore predicates, `check`, `after`.
/// Lives with its `LuaState` on the run loop's thread.
final class LuaHooks: PipelineHooks, ActionHooks {
    let state: LuaState
    private var predicates: [LuaFunction] = []
    private var moduleActions: [String: [LuaFunction]] = [:]
    var checks: [String: LuaFunction] = [:]
    var afters: [String: LuaFunction] = [:]
    var onGroups: [String: LuaFunction] = [:]
    var renders: [String: LuaFunction] = [:]

    init(state: LuaState) {
        self.state = state
    }

    func addPredicate(_ f: LuaFunction, pipeline: String) -> Int {
        predicates.append(f)
        return predicates.count - 1
    }

    func addModuleAction(_ f: LuaFunction, module: String) -> Int {
        moduleActions[module, default: []].append(f)
        return moduleActions[module]!.count - 1
    }

    /// `function(batch)` of a module's on_sync, with `{ module =, path =, paths = { ... } }`:
    /// false (or false, "why") or an error fails it; anything else succeeds.
    func runAction(module: String, index: Int, paths: [String], timeout: Double) throws -> ActionHookResult {
        guard let f = moduleActions[module]?[index] else { return .refused("no such Lua action") }
        var t = LuaTable()
        t["module"] = .text(module)
        var list = LuaTable()
        list.array = paths.map { .path($0) }
        t["paths"] = .table(list)
        let results: [LuaValue]
        do { results = try state.call(f, [.table(t)], timeout: timeout) } catch let error as LuaError
            where error.kind == .timeout
        {
            return .timedOut
        }
        guard case .boolean(false) = results.first ?? .nil else { return .ok }
        return .refused(results.dropFirst().first?.stringValue ?? "returned false")
    }

    func ignores(pipeline: String, predicate index: Int, path: String, isDirectory: Bool) throws -> Bool {
        try state.call(predicates[index], [.path(path), .boolean(isDirectory)]).first?.isTruthy ?? false
    }

    /// The batch as Lua sees it: `paths` that exist in the source (created or
    /// changed), `deleted` ones that are gone, and `full` for a whole-tree sync.
    func check(pipeline: String, batch: ChangeBatch) throws -> String? {
        guard let f = checks[pipeline] else { return nil }
        var t = LuaTable()
        t["pipeline"] = .text(pipeline)
        var paths = LuaTable(), deleted = LuaTable()
        for p in batch.paths {
            if batch.changes[p] == .deleted { deleted.array.append(.path(p)) } else { paths.array.append(.path(p)) }
        }
        t["paths"] = .table(paths)
        t["deleted"] = .table(deleted)
        t["full"] = .boolean(batch.fullRescan)
        let results = try state.call(f, [.table(t)])
        // Only an explicit false holds the batch: a callback that returns nothing lets it go.
        guard case .boolean(false) = results.first ?? .nil else { return nil }
        return results.dropFirst().first?.stringValue ?? "check returned false"
    }

    /// `render(path, text, vars, target)` returns the text the target gets.
    func render(pipeline: String, path: String, text: [UInt8], vars: [String: String], target: String) throws -> [UInt8]
    {
        guard let f = renders[pipeline] else { return text }
        var t = LuaTable()
        for (k, v) in vars { t[k] = .text(v) }
        let results = try state.call(f, [.path(path), .string(text), .table(t), .text(target)])
        guard case .string(let bytes) = results.first ?? .nil else {
            throw ConfigError("render(\"\(path)\") must return the text, got \(results.first?.typeName ?? "nothing")")
        }
        return bytes
    }

    func after(pipeline: String, target: String, result: TargetResult) throws {
        guard let f = afters[pipeline] else { return }
        var r = LuaTable()
        r["status"] = .text(result.status.rawValue)
        r["written"] = .integer(Int64(result.written))
        r["deleted"] = .integer(Int64(result.deleted))
        r["bytes"] = .integer(result.bytes)
        if let m = result.message { r["message"] = .text(m) }
        var actions = LuaTable()
        for a in result.actions {
            var t = LuaTable()
            t["name"] = .text(a.name)
            t["outcome"] = .text(a.outcome.rawValue)
            t["summary"] = .text(a.summary)
            if let s = a.exitStatus { t["exit"] = .integer(Int64(s)) }
            t["output"] = .text(a.output)
            actions.array.append(.table(t))
        }
        r["actions"] = .table(actions)
        try state.call(f, [.text(target), .table(r)])
    }
}

extension LuaHooks {
    /// `on_group(group, revision, outcome)`: `outcome` is the document `notify` POSTs (event,
    /// why, author, paths, and `hosts`: `{ host =, state =, message =, actions = { ... } }`).
    func onGroup(pipeline: String, outcome: GroupOutcome) throws {
        guard let f = onGroups[pipeline] else { return }
        var t = LuaTable()
        t["event"] = .text(outcome.event)
        if let why = outcome.why { t["why"] = .text(why) }
        t["author"] = .text(outcome.author)
        t["changed"] = .integer(Int64(outcome.changed))
        var paths = LuaTable()
        for p in outcome.paths { paths.array.append(.path(p)) }
        t["paths"] = .table(paths)
        var hosts = LuaTable()
        for h in outcome.hosts {
            var line = LuaTable()
            line["host"] = .text(h.host)
            line["state"] = .text(h.state)
            if let m = h.message { line["message"] = .text(m) }
            var actions = LuaTable()
            for a in h.actions { actions.array.append(.text(a)) }
            line["actions"] = .table(actions)
            hosts.array.append(.table(line))
        }
        t["hosts"] = .table(hosts)
        try state.call(f, [.text(outcome.group), .integer(Int64(outcome.revision)), .table(t)])
    }
}

extension LuaValue {
    /// A path as Lua sees it: its bytes, as on disk (see `FileName`).
    fileprivate static func path(_ path: String) -> LuaValue { .string(FileName.encode(path)) }
}
