import RunnerSystem

extension PipelineRunner {
    /// Whether host `h` is at its group's approved revision (or there is none yet).
    func isCurrent(_ h: Int) -> Bool {
        let host = rollout.hosts[h], approved = rollout.groups[host.group].approved
        return rollout.head == 0 || (host.applied == approved && host.sending == nil)
    }

    /// How many paths host `h` lacks: the difference between what it confirmed and what it
    /// should have (0 when it needs a whole comparison: `fullResync` says so).
    func pendingPaths(_ h: Int) -> Int {
        let desired = rollout.desired(h)
        guard let applied = rollout.hosts[h].applied, applied != desired, desired > 0 else { return 0 }
        return changedPaths(from: applied, to: desired)
    }

    /// A revision waiting for an operator in group `g`: why, for how long, and how many paths
    /// it changes from what the group may have now.
    func approvalWaiting(_ g: Int, now: Double) -> (revision: Int, why: String, seconds: Double, paths: Int)? {
        guard let waiting = rollout.groups[g].waiting else { return nil }
        return (
            waiting.revision, waiting.why, max(0, now - waiting.since),
            changedPaths(from: rollout.groups[g].admitted, to: waiting.revision)
        )
    }

    /// Paths that differ between two revisions (0 when one is gone), remembered.
    private func changedPaths(from: Int, to: Int) -> Int {
        let key = PendingKey(from: from, to: to)
        if let known = pendingCounts[key] { return known }
        guard let old = log.record(from), let new = log.record(to),
            let count = try? log.diff(from: old, to: new).paths.count
        else { return 0 }
        if pendingCounts.count > 256 { pendingCounts.removeAll() }
        pendingCounts[key] = count
        return count
    }

    /// What group `g`'s candidate waits for, and for how long; nil when none waits.
    func waitingReason(_ g: Int, now: Double) -> (why: String, seconds: Double)? {
        guard let since = rollout.groups[g].waitingSince, let candidate = rollout.candidate(of: g) else { return nil }
        let canaries = rollout.canaries(of: g)
        let why: String
        if canaries.isEmpty {
            why = "no canary within reach (every host of the group is down)"
        } else {
            why = canaries.map { c -> String in
                let host = rollout.hosts[c], uri = host.uri
                if let sending = host.sending {
                    return "canary \(uri) is applying revision \(sending.revision) (for \(Int(now - sending.since)) s)"
                }
                if (host.applied ?? 0) >= candidate { return "canary \(uri) applied it" }
                if let at = host.notBefore, at > now {
                    return "canary \(uri) failed (\(host.lastError ?? "?")); retried in \(Int(at - now)) s"
                }
                return "canary \(uri) has not started it"
            }.joined(separator: "; ")
        }
        return (why, now - since)
    }
}

/// A pair of revisions whose difference was counted.
struct PendingKey: Hashable {
    let from: Int
    let to: Int
}

extension PipelineRunner {
    /// `runner log`: the pipeline's newest `limit` revisions and what each group made of them,
    /// from its state directory under `stateDirectory`.
    public static func history(_ config: PipelineConfig, stateDirectory: String, limit: Int) -> RevisionHistory {
        RevisionHistory.read(
            directory: Self.stateDirectory(stateDirectory, config.name), pipeline: config.name,
            groups: layout(config).map { ($0.name, $0.members.map(\.uri.description), $0.staged) }, limit: limit)
    }
}

extension PipelineRunner {
    /// Where a running sender of `config` takes `runner approve`, `reject` and `rollback`.
    public static func controlSocketPath(_ config: PipelineConfig, stateDirectory: String) -> String {
        Self.stateDirectory(stateDirectory, config.name) + "/control.sock"
    }
}

extension PipelineRunner {
    /// `runner diff`: what revision `to` changes from `from` at group `group`'s first host
    /// (rendered with its values, secrets masked), from the pipeline's state directory. By
    /// default from the group's approved revision to what waits for it (a candidate, or a
    /// revision waiting for approval). Throws a `TransferError` naming what is missing.
    public static func diff(
        _ config: PipelineConfig, hooks: (any PipelineHooks)?, stateDirectory: String, group: String,
        from: Int?, to: Int?
    ) throws -> (from: Int, to: Int, text: String) {
        let directory = Self.stateDirectory(stateDirectory, config.name)
        guard let destination = config.destinations.first(where: { $0.group == group }) else {
            throw TransferError("pipeline '\(config.name)' sends to no group '\(group)'", path: "")
        }
        let log = try RevisionLog(directory: directory, readOnly: true)
        let saved = StateJournal(directory: directory).written.groups[group] ?? RolloutState.Group()
        let a = from ?? saved.approved
        guard let b = to ?? saved.waiting ?? [saved.admitted, saved.head].compactMap({ $0 }).first(where: { $0 > a })
        else {
            throw TransferError("group \(group) waits for nothing: it is at revision \(a) (give A..B)", path: "")
        }
        guard let new = log.record(b) else { throw TransferError("revision \(b) is not kept", path: directory) }
        let old = a > 0 ? log.record(a) : nil
        if a > 0 && old == nil { throw TransferError("revision \(a) is not kept", path: directory) }
        let text = try RevisionDiffText(log: log, config: config, hooks: hooks).text(
            from: old, to: new, for: destination)
        return (a, b, text)
    }
}
