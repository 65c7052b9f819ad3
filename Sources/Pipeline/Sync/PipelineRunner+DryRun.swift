import RunnerSystem

extension PipelineRunner {
    /// `--dry-run`: prints what the batch would do, touching nothing.
    func describe(_ batch: ChangeBatch, label: String) -> Bool {
        var lines = ["\(label) (\(config.name)):"]
        var ignored = batch.ignored
        var ok = true
        var planned: [(String, SyncPlan)] = []
        var rendered: [(DeliveryHost, SyncPlan, [String: RenderedFile])] = []
        // Cut into the dry run's own log, then planned against each target as a run would.
        let whole = batch.fullRescan || log.head == nil
        var cut = CutResult()
        do {
            cut = try log.cut(
                CutRequest(
                    source: sourceRoot, sourceFile: config.sourceFile, paths: whole ? nil : batch.paths,
                    filter: filter))
        } catch {
            ok = false
            lines.append("  cannot read the source: \(error)")
        }
        ignored += cut.ignored
        let record = cut.record ?? (whole ? log.head : nil)
        for host in fleet.hosts {
            guard let record, let raw = log.tree(record) else { break }
            do {
                let paths = whole ? config.sourceFile.map { [$0] } : cut.diff.paths
                let overlay = try renderer.overlay(raw, paths: paths, for: host.destination, store: log.store)
                let plan = try host.target.plan(
                    paths: paths, moves: whole ? [:] : cut.diff.moves, source: log.tree(record, overlay: overlay)!,
                    filter: filter, delete: config.delete)
                planned.append((host.uri.description, plan))
                if !overlay.isEmpty { rendered.append((host, plan, overlay)) }
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
                case .link(_, let from, _): what = "rename from \(from)"
                case .directory: what = "make directory"
                case .attributes: what = "set mode/owner/times"
                case .symlink(_, let dest, _): what = "link -> \(dest)"
                case .delete: what = "delete"
                }
                if fates[op.path] == nil { order.append(op.path) }
                fates[op.path, default: []].append("\(what) to \(uri)")
            }
        }
        for path in order { lines.append("  \(path.isEmpty ? "." : path): \(fates[path]!.joined(separator: "; "))") }
        for host in fleet.hosts {
            guard planned.contains(where: { $0.0 == host.uri.description && !$0.1.operations.isEmpty }) else {
                continue
            }
            do {
                for action in try host.target.describeActions() { lines.append("  then on \(host.uri): \(action)") }
            } catch {
                lines.append("  then on \(host.uri): actions unknown (\(error))")
            }
        }
        for path in batch.paths where fates[path] == nil && !ignored.contains(where: { $0.path == path }) {
            lines.append("  \(path): up to date on all targets")
        }
        lines += renderedDiffs(rendered)
        var seen = Set<String>()
        for (path, reason) in ignored.sorted(by: { $0.path < $1.path }) where seen.insert(path).inserted {
            lines.append("  \(path): \(reason)")
        }
        if config.hasCheck && !batch.paths.isEmpty { lines.append("  would call check(batch) first") }
        if config.hasAfter && !order.isEmpty { lines.append("  would call after(host, result) for each target") }
        if lines.count == 1 { lines.append("  nothing to do") }
        print(FileName.display(lines.joined(separator: "\n")))
        return ok
    }

    /// Per group, a unified diff of each rendered file the batch sends against the
    /// receiver's copy; hosts of a group with the same diff are shown once.
    private func renderedDiffs(_ rendered: [(DeliveryHost, SyncPlan, [String: RenderedFile])]) -> [String] {
        // In first-seen order: a group's file, and each different diff its hosts would see.
        var entries: [(group: String, path: String, diffs: [(hosts: [String], text: String)])] = []
        func add(_ group: String, _ path: String, _ host: DeliveryHost, _ text: String) {
            let e = entries.firstIndex { $0.group == group && $0.path == path } ?? entries.count
            if e == entries.count { entries.append((group, path, [])) }
            if let d = entries[e].diffs.firstIndex(where: { $0.text == text }) {
                entries[e].diffs[d].hosts.append(host.uri.description)
            } else {
                entries[e].diffs.append(([host.uri.description], text))
            }
        }
        let secrets = config.secret.isEmpty ? nil : try? Filter(rules: config.secret)
        func secret(_ path: String) -> Bool { (try? secrets?.isIgnored(path, isDirectory: false)) == true }
        for (host, plan, overlay) in rendered {
            let paths = plan.operations.compactMap { op -> String? in
                guard case .copy(let path, _) = op, overlay[path] != nil else { return nil }
                return path
            }
            guard !paths.isEmpty else { continue }
            let group = host.destination.group.map { "group \($0)" } ?? "\(host.uri)"
            let theirs: [TargetFileContent]
            do { theirs = try host.target.read(paths) } catch {
                add(group, paths.joined(separator: ", "), host, "cannot read the host's copies: \(error)\n")
                continue
            }
            for (path, their) in zip(paths, theirs) {
                guard let ours = try? log.store.read(overlay[path]!.hash) else { continue }
                switch their {
                case .tooLarge: add(group, path, host, "(the host's copy is over \(TargetFileContent.limit) bytes)\n")
                case .absent:
                    add(
                        group, path, host,
                        UnifiedDiff.masked([], ours, oldName: "/dev/null", newName: path, secret: secret(path)) ?? "")
                case .bytes(let bytes):
                    let text = UnifiedDiff.masked(
                        bytes, ours, oldName: "\(path) (on the host)", newName: "\(path) (rendered)",
                        secret: secret(path))
                    add(group, path, host, text ?? "")
                }
            }
        }
        var lines: [String] = []
        for entry in entries {
            for (hosts, text) in entry.diffs where !text.isEmpty {
                lines.append("  \(entry.path) for \(entry.group) (\(hosts.joined(separator: ", "))):")
                lines += text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { "    " + $0 }
            }
        }
        return lines
    }
}
