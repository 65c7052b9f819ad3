extension PipelineRunner {
    /// `--dry-run`: prints what the batch would do, touching nothing.
    func describe(_ batch: ChangeBatch, label: String) -> Bool {
        var lines = ["\(label) (\(config.name)):"]
        var ignored = batch.ignored
        var ok = true
        var planned: [(String, SyncPlan)] = []
        for host in fleet.hosts {
            do {
                // Templates are rendered as a run would (into the runner's own cache), then planned.
                try host.render?.update(batch, source: config.source, filter: filter, rules: renderRules(for: host))
                planned.append(
                    (
                        host.uri.description,
                        try host.target.plan(
                            paths: batch.fullRescan ? fullSyncPaths : batch.paths,
                            source: host.source, filter: filter, delete: config.delete)
                    ))
            } catch {
                ok = false
                lines.append("  \(host.uri): \(error)")
            }
        }
        if let first = planned.first { ignored += first.1.ignored }
        var fates: [String: [String]] = [:]
        var order: [String] = []
        for (uri, plan) in planned {
            for op in plan.operations {
                let what: String
                switch op {
                case .copy(_, let info): what = "send (\(info.size) bytes)"
                case .directory: what = "make directory"
                case .attributes: what = "set mode/times"
                case .symlink(_, let dest, _): what = "link -> \(dest)"
                case .delete: what = "delete"
                }
                if fates[op.path] == nil { order.append(op.path) }
                fates[op.path, default: []].append("\(what) to \(uri)")
            }
        }
        for path in order { lines.append("  \(path.isEmpty ? "." : path): \(fates[path]!.joined(separator: "; "))") }
        for (destination, target) in targets {
            guard planned.contains(where: { $0.0 == destination.uri.description && !$0.1.operations.isEmpty }) else {
                continue
            }
            do {
                for action in try target.describeActions() { lines.append("  then on \(destination.uri): \(action)") }
            } catch {
                lines.append("  then on \(destination.uri): actions unknown (\(error))")
            }
        }
        for path in batch.paths where fates[path] == nil && !ignored.contains(where: { $0.path == path }) {
            lines.append("  \(path): up to date on all targets")
        }
        var seen = Set<String>()
        for (path, reason) in ignored.sorted(by: { $0.path < $1.path }) where seen.insert(path).inserted {
            lines.append("  \(path): \(reason)")
        }
        if config.hasCheck && !batch.paths.isEmpty { lines.append("  would call check(batch) first") }
        if config.hasAfter && !order.isEmpty { lines.append("  would call after(host, result) for each target") }
        if lines.count == 1 { lines.append("  nothing to do") }
        print(lines.joined(separator: "\n"))
        return ok
    }
}
