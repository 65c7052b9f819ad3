import Pipeline
import RunnerSystem

/// Operators in a schedule: approvals of what waits (the newest, or an older one), rejections,
/// and rollbacks of a group to a revision it had; and the oracle that says what each group
/// may be sent, kept apart from the machine's own bookkeeping.
extension Simulation {
    enum Operation {
        case approve(group: Int, older: Bool)
        case reject(group: Int)
        case rollback(group: Int)
    }

    /// A few operations between 1 s and 27 s; more where a group waits for approvals.
    static func operations(groups: Int, gated: Bool, _ r: inout SplitMix) -> [(at: Double, operation: Operation)] {
        var out: [(at: Double, operation: Operation)] = []
        for _ in 0..<Int.random(in: 0...(gated ? 6 : 3), using: &r) {
            let g = Int.random(in: 0..<groups, using: &r)
            let roll = Int.random(in: 0..<10, using: &r)
            let operation: Operation =
                roll < 6 ? .approve(group: g, older: roll == 0) : roll < 8 ? .reject(group: g) : .rollback(group: g)
            out.append((Double.random(in: 1...27, using: &r), operation))
        }
        return out.sorted { $0.at < $1.at }
    }

    /// A revision cut from the source, as the oracle sees it: each group may have it at once,
    /// or it waits there (a gated group, a guard that tripped, or an older one waits already).
    mutating func offer(_ revision: Int, gates: [Int: String]) {
        for g in layout.indices {
            offered[g].insert(revision)
            if policy.approve.contains(layout[g].name) || gates[g] != nil || waiting[g] != nil {
                waiting[g] = revision
            } else {
                admitted[g].insert(revision)
            }
        }
    }

    mutating func operate(_ operation: Operation) {
        switch operation {
        case .approve(let g, let older):
            guard let newest = waiting[g] else { return step(.tick) }
            let floor = max(admitted[g].max() ?? 0, approvalFloor[g] ?? 0)
            let earlier = offered[g].filter { $0 > floor && $0 < newest && !lost.contains($0) }
            // Sorted: a seed replays the same draws in another process (a Set's order is not).
            let revision = older ? earlier.sorted().randomElement(using: &random) ?? newest : newest
            admitted[g].insert(revision)
            if revision == newest { waiting[g] = nil }
            if tracing { log("an operator approves revision \(revision) for g\(g)") }
            started()
            step(.approve(group: g, revision: revision))
        case .reject(let g):
            waiting[g] = nil
            if tracing { log("an operator rejects what waits in g\(g)") }
            step(.reject(group: g))
        case .rollback(let g):
            guard let to = admitted[g].sorted().randomElement(using: &random) else { return step(.tick) }
            let revision = max(machine.head, revisions.keys.max() ?? 0) + 1
            revisions[revision] = revisions[to]!
            offered[g].insert(revision)
            admitted[g].insert(revision)
            waiting[g] = nil
            if tracing { log("an operator rolls g\(g) back to revision \(to), as revision \(revision)") }
            started()
            step(.rollback(group: g, revision: revision))
        }
    }

    /// Hosts must reach what a group was let have as they must a cut's.
    private mutating func started() {
        lastCut = now
        bounds = machine.groups.indices.map(bound)
    }
}
