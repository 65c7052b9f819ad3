import RunnerSystem

extension PipelineRunner {
    /// The groups where revision `record` must wait for an operator, and why: those for which
    /// it changes more than the pipeline's `guard` allows, weighed against what each group may
    /// have now (the first revision is not weighed: there is nothing to guard yet).
    func gates(for record: RevisionRecord) -> [Int: String] {
        guard let limit = config.massChangeGuard else { return [:] }
        var gates: [Int: String] = [:]
        // Groups at the same revision weigh the change once.
        var weighed: [Int: String?] = [:]
        for g in rollout.groups.indices where rollout.groups[g].name != Self.standbyGroup {
            let from = rollout.groups[g].admitted
            guard from > 0 else { continue }
            if weighed[from] == nil { weighed[from] = weigh(record, from: from, limit) }
            if let why = weighed[from]! { gates[g] = why }
        }
        return gates
    }

    private func weigh(_ record: RevisionRecord, from: Int, _ limit: MassChangeGuard) -> String? {
        guard let base = log.record(from) else { return nil }
        do {
            let diff = try log.diff(from: base, to: record, counting: true)
            return limit.trips(
                deleted: diff.removed, changed: diff.added + diff.removed + diff.modified,
                of: try log.files(of: base) ?? 0)
        } catch {
            return "the guard could not weigh it against revision \(from): \(error)"
        }
    }
}
