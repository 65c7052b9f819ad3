/// The rollout's groups: which hosts, in which order, under which policy.
extension PipelineRunner {
    /// The rollout of `config`'s groups from `state` (a start's, or etcd's at a takeover).
    static func makeRollout(
        _ config: PipelineConfig, layout: [Layout], log: RevisionLog, state: RolloutState?,
        renderKeys: [String: String]
    ) -> Rollout {
        var state = state
        // A state ahead of the log (its newest revisions lost to a crash before they were
        // written): taken back to the log's head; hosts said to have more are compared whole.
        if let s = state, s.head > log.newest { state?.head = log.newest }
        return Rollout(
            groups: layout.map { ($0.name, $0.members.map(\.uri.description), $0.staged) },
            policy: Rollout.Policy(
                canaries: config.rollout.canaries, maxFailures: config.rollout.maxFailures,
                pause: config.rollout.pause, maxParallel: config.maxParallel, retryInitial: config.retryInitial,
                retryMaximum: config.retryMax, approve: config.approve),
            state: state, renderKeys: renderKeys, seed: UInt64.random(in: 0...UInt64.max))
    }

    /// A group of the rollout: its name, its hosts, and whether canaries go first.
    typealias Layout = (name: String, members: [PipelineConfig.Destination], staged: Bool)

    /// The group of the other senders' sources (`coordination.peers`): each gets every
    /// revision of the source as it is (no template rendered, nothing gated, deletes sent).
    static let standbyGroup = "(standby)"

    /// The other senders' sources, as the standby group's hosts.
    static func standbys(_ settings: CoordinationSettings) -> [PipelineConfig.Destination] {
        settings.peers.filter { $0.key != settings.name }.sorted { $0.key < $1.key }.map {
            PipelineConfig.Destination(uri: $0.value, group: standbyGroup)
        }
    }

    /// The groups of a pipeline's destinations in the order first named, hosts named
    /// directly, then the other senders' sources (`standbys`); the named ones roll out as
    /// `rollout` says.
    static func layout(_ config: PipelineConfig, standbys: [PipelineConfig.Destination] = []) -> [Layout] {
        var names: [String] = []
        for d in config.destinations { if let g = d.group, !names.contains(g) { names.append(g) } }
        var layout = names.map { name in
            (name: name, members: config.destinations.filter { $0.group == name }, staged: config.rollout.isStaged)
        }
        let loose = config.destinations.filter { $0.group == nil }
        if !loose.isEmpty { layout.append((name: "", members: loose, staged: false)) }
        if !standbys.isEmpty { layout.append((name: standbyGroup, members: standbys, staged: false)) }
        return layout
    }
}
