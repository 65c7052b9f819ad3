/// What `runner log` shows: revisions newest first, each with what became of it in every
/// group, read from the state directory (records, the rollout's state, its history).
public struct RevisionHistory: Codable, Sendable, Equatable {
    /// What a group made of one revision.
    public struct Verdict: Codable, Sendable, Equatable {
        public enum State: String, Codable, Sendable {
            /// The group's hosts are brought to it (or were, before a newer one).
            case approved
            /// A canary refused it: no other host of the group got it.
            case held
            /// Approved, then more hosts than `max_failures` failed it.
            case halted
            /// At the group's canaries now.
            case trying
            /// A newer revision came before the canaries (or an operator) were done with it.
            case superseded
            /// It waits for an operator's approval.
            case waiting
        }

        public var group: String
        public var state: State
        public var why: String?
        /// The operator who approved, rejected or rolled back to it.
        public var by: String?
        /// Hosts of the group at this revision now, and how many it has.
        public var hostsAt: Int
        public var hosts: Int
    }

    /// One revision, as the log keeps it, and its verdicts.
    public struct Entry: Codable, Sendable, Equatable {
        public var number: Int
        public var time: Double
        public var author: String
        public var note: String?
        public var changed: [String]
        public var changedCount: Int
        public var groups: [Verdict]
    }

    public var pipeline: String
    public var revisions: [Entry]

    /// The history of `records` for `groups` (each with its hosts' URIs and whether its
    /// revisions go to canaries first), from the rollout's `state` and its `events`.
    public init(
        pipeline: String, records: [RevisionRecord], groups: [(name: String, hosts: [String], staged: Bool)],
        state: RolloutState, events: [RolloutEvent]
    ) {
        self.pipeline = pipeline
        var decided: [String: [Int: RolloutEvent]] = [:]
        var operators: [String: [Int: RolloutEvent]] = [:]
        for event in events {
            switch event.kind {
            case .approval, .rejection, .rollback: operators[event.group, default: [:]][event.revision] = event
            default: decided[event.group, default: [:]][event.revision] = event
            }
        }
        let head = records.map(\.number).max() ?? 0
        revisions = records.sorted { $0.number > $1.number }.map { record in
            let r = record.number
            let verdicts = groups.filter { g in record.group.map { $0 == g.name } ?? true }.map { group in
                let saved = state.groups[group.name] ?? RolloutState.Group()
                let event = decided[group.name]?[r]
                let verdict: Verdict.State
                switch event?.kind {
                case .held?: verdict = .held
                case .halted?: verdict = .halted
                case .approved?: verdict = .approved
                default:
                    if saved.held == r {
                        verdict = .held
                    } else if let waiting = saved.waiting, r > (saved.admitted ?? 0) {
                        verdict = r == waiting ? .waiting : .superseded
                    } else if !group.staged {
                        verdict = r <= saved.approved ? .approved : .trying
                    } else if r > saved.approved && r == head {
                        verdict = .trying
                    } else {
                        verdict = r == saved.approved ? .approved : .superseded
                    }
                }
                let why: String?
                switch verdict {
                case .held, .halted, .waiting:
                    why =
                        event?.kind.rawValue == verdict.rawValue
                        ? event?.why : verdict == .held ? saved.heldWhy : saved.waitingWhy
                default: why = nil
                }
                let at = group.hosts.filter { state.hosts[$0]?.applied == r }.count
                let by = operators[group.name]?[r].map { "\($0.kind.rawValue) by \($0.by ?? "?")" }
                return Verdict(
                    group: group.name, state: verdict, why: why, by: by, hostsAt: at, hosts: group.hosts.count)
            }
            return Entry(
                number: r, time: record.time, author: record.author, note: record.note, changed: record.changed,
                changedCount: record.changedCount, groups: verdicts)
        }
    }
}

extension RevisionHistory {
    /// The newest `limit` revisions of the pipeline whose state is in `directory`, read without
    /// taking its lock: a running sender's too (whose last second of cuts may not be on disk).
    public static func read(
        directory: String, pipeline: String, groups: [(name: String, hosts: [String], staged: Bool)], limit: Int
    ) -> RevisionHistory {
        RevisionHistory(
            pipeline: pipeline, records: RevisionLog.records(in: directory, limit: limit), groups: groups,
            state: StateJournal(directory: directory).written, events: RolloutHistory.read(directory: directory))
    }
}
