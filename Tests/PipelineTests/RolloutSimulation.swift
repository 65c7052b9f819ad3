import Foundation
import Pipeline
import RunnerSystem
import TestSupport

/// A rollout machine as the simulation drives it: the real `Rollout`, or one of the test's
/// wrappers that plant an old wedge around it.
protocol SimulatedMachine {
    init(
        layout: [(name: String, hosts: [String], staged: Bool)], policy: Rollout.Policy, state: RolloutState?,
        seed: UInt64)
    mutating func handle(_ event: Rollout.Event, now: Double) -> [Rollout.Action]
    var hosts: [HostState] { get }
    var groups: [GroupState] { get }
    var head: Int { get }
    var deadline: Double? { get }
    var state: RolloutState { get }
    func desired(_ h: Int) -> Int
}

extension Rollout: SimulatedMachine {
    init(
        layout: [(name: String, hosts: [String], staged: Bool)], policy: Rollout.Policy, state: RolloutState?,
        seed: UInt64
    ) {
        self.init(groups: layout, policy: policy, state: state, seed: seed)
    }
}

/// One seeded schedule: a fleet of simulated hosts (healthy, down, hung, slow, flapping,
/// frozen then thawed, refusing what is broken, refusing at render), edits to a simulated
/// source cut by the real `Coalescer`, sender restarts through the machine's persisted
/// state (as JSON), all on a simulated clock around the machine under test. Every step is
/// checked against the invariants; `violations` says what broke, and `trace` how.
struct Simulation<Machine: SimulatedMachine> {
    /// How a host behaves from a time on.
    enum Behaviour: Equatable, CustomStringConvertible {
        case healthy
        case down
        case hung
        case slow
        case frozen(until: Double)
        var description: String {
            switch self {
            case .healthy: "healthy"
            case .down: "down"
            case .hung: "hung"
            case .slow: "slow"
            case .frozen(let until): "frozen until \(String(format: "%.2f", until))"
            }
        }
    }

    /// One simulated host: its behaviour over time, what it refuses, and what it has.
    struct Host {
        var phases: [(from: Double, behaviour: Behaviour)]
        /// Refuses broken revisions (its validation fails), or fails to render some.
        var refusesBroken: Bool
        var lacksAVariable: Bool
        var latency: Double
        /// The revision the host really has (nil: none yet).
        var actual: Int?
        /// When an answer of its was lost after the commit (trouble too).
        var lostAnswers: [Double] = []

        func behaviour(at t: Double) -> Behaviour { phases.last { $0.from <= t }?.behaviour ?? .healthy }

        /// How many spells of trouble it has in `range` (an answer lost counts as one).
        func troubles(in range: ClosedRange<Double>) -> Int {
            lostAnswers.count { range.contains($0) }
                + phases.indices.count { i in
                    let end = i + 1 < phases.count ? phases[i + 1].from : .infinity
                    return phases[i].behaviour != .healthy && phases[i].from <= range.upperBound
                        && end >= range.lowerBound
                }
        }

        /// Whether it is in any kind of trouble at some time in `range`.
        func troubled(in range: ClosedRange<Double>) -> Bool {
            lostAnswers.contains { range.contains($0) }
                || phases.enumerated().contains { i, p in
                    let end = i + 1 < phases.count ? phases[i + 1].from : .infinity
                    return p.behaviour != .healthy && p.from <= range.upperBound && end >= range.lowerBound
                }
        }

        /// Since when it has been healthy for good (nil: never).
        var healthySince: Double? {
            guard phases.last?.behaviour == .healthy else { return phases.isEmpty ? 0 : nil }
            return phases.last!.from
        }
    }

    /// A delivery under way: when it answers and with what; `commits` tells whether the
    /// batch was committed at the host (an answer can be lost after the commit).
    struct Flight {
        var host: Int
        var revision: Int
        var asCanary: Bool
        var at: Double
        var answer: Rollout.Answer
        var commits: Bool
        /// The leader that sent it (`+Takeover`): one since deposed lands it, and its answer
        /// reaches nobody.
        var term = 0
    }

    let seed: UInt64
    var random: SplitMix
    let layout: [(name: String, hosts: [String], staged: Bool)]
    /// Each host's group, as the layout says (a wrapper's machines may number them their own way).
    let groupOf: [Int]
    let policy: Rollout.Policy
    let timeout: Double
    var machine: Machine
    var hosts: [Host] = []
    var now = 0.0
    var coalescer: Coalescer
    /// The source: whether it is broken (a validation fails), or uses a variable some hosts
    /// lack; edits not cut yet; and each revision's flags.
    var broken = false
    var renderBroken = false
    var edits: [(at: Double, broken: Bool?, renderBroken: Bool?)] = []
    var revisions: [Int: (broken: Bool, renderBroken: Bool)] = [:]
    var flights: [Flight] = []
    var restarts: [Double] = []
    var restartedAt: [Double] = []
    /// When a standby takes over (`+Takeover`), the leader of the moment, and the newest
    /// leader each host has heard from (its fence refuses an older leader's batch).
    var takeovers: [Double] = []
    /// When each host that dials in connects (`+DialIn`).
    var dials: [(at: Double, host: Int)] = []
    var term = 0
    /// Revisions the leader of the moment does not hold (a standby that never had them):
    /// no operator can approve or roll back to one (the leader refuses: it cannot send it).
    var lost: Set<Int> = []
    /// Per group, the newest revision it was let have before a takeover made the standby
    /// forget it: operators approve nothing older (as they did not before it).
    var approvalFloor: [Int: Int] = [:]
    var fence: [Int: Int] = [:]
    var end: Double = 0
    /// When the last revision was cut, and by when each group's hosts must have it (nil:
    /// checked since).
    var lastCut = 0.0
    var bounds: [Double?] = []
    /// What operators do, and when (`+Operator`).
    var operations: [(at: Double, operation: Operation)] = []
    /// The oracle of approvals: the revisions each group may roll out, and the one waiting.
    var admitted: [Set<Int>] = []
    var waiting: [Int?] = []
    /// Revisions cut for each group (the source's, and its own rollbacks).
    var offered: [Set<Int>] = []
    /// Revisions each group's canaries refused.
    var refusedByCanary: [Set<Int>] = []
    var violations: [String] = []
    var trace: [String] = []
    let tracing: Bool
    /// Events the machine handled.
    var steps = 0

    /// A schedule made from `seed`.
    init(seed: UInt64, tracing: Bool = false) {
        self.seed = seed
        self.tracing = tracing
        var r = SplitMix(state: seed)
        random = r
        timeout = [1.0, 2.0, 3.0].randomElement(using: &r)!
        let groupCount = Int.random(in: 1...3, using: &r)
        var layout: [(name: String, hosts: [String], staged: Bool)] = []
        for g in 0..<groupCount {
            let n = Int.random(in: 1...5, using: &r)
            layout.append(
                ("g\(g)", (0..<n).map { "runner://h\(g)-\($0)/m" }, Double.random(in: 0...1, using: &r) < 0.7))
        }
        self.layout = layout
        groupOf = layout.indices.flatMap { g in Array(repeating: g, count: layout[g].hosts.count) }
        let canaries = [1, 1, 1, 2].randomElement(using: &r)!
        policy = Rollout.Policy(
            canaries: canaries, maxFailures: [nil, nil, 0, 1, 2].randomElement(using: &r)!,
            pause: [0, 0, 0, 0.5].randomElement(using: &r)!, maxParallel: 64,
            retryInitial: [0.2, 0.5, 1].randomElement(using: &r)!, retryMaximum: [1, 2, 4].randomElement(using: &r)!,
            approve: Set(layout.map(\.name).filter { _ in Double.random(in: 0...1, using: &r) < 0.2 }))
        machine = Machine(layout: layout, policy: policy, state: nil, seed: r.next())
        coalescer = Coalescer(delay: [0.05, 0.2].randomElement(using: &r)!, maxDelay: 2)
        let total = layout.reduce(0) { $0 + $1.hosts.count }
        // Trouble starts before 25 s and ends by 30 s; edits stop by 25 s.
        for _ in 0..<total {
            var phases: [(from: Double, behaviour: Behaviour)] = []
            var t = 0.0
            if Double.random(in: 0...1, using: &r) < 0.5 {
                for _ in 0..<Int.random(in: 1...3, using: &r) {
                    t += Double.random(in: 0...10, using: &r)
                    guard t < 25 else { break }
                    let trouble: Behaviour =
                        switch Int.random(in: 0..<5, using: &r) {
                        case 0: .down
                        case 1: .hung
                        case 2: .slow
                        case 3: .frozen(until: t + Double.random(in: 0.1...8, using: &r))
                        default: Bool.random(using: &r) ? .down : .healthy  // flapping
                        }
                    phases.append((t, trouble))
                    t += Double.random(in: 0.5...6, using: &r)
                    phases.append((min(t, 30), .healthy))
                }
            }
            hosts.append(
                Host(
                    phases: phases, refusesBroken: Double.random(in: 0...1, using: &r) < 0.3,
                    lacksAVariable: Double.random(in: 0...1, using: &r) < 0.2,
                    latency: Double.random(in: 0.005...0.3, using: &r), actual: nil))
        }
        var t = 0.0
        while true {
            t += Double.random(in: 0...4, using: &r)
            guard t < 25 else { break }
            // A burst of one to five edits, each maybe breaking or mending the source.
            for _ in 0..<Int.random(in: 1...5, using: &r) {
                t += Double.random(in: 0...0.3, using: &r)
                let roll = Double.random(in: 0...1, using: &r)
                edits.append(
                    (t, roll < 0.15 ? true : roll < 0.4 ? false : nil, roll > 0.9 ? true : roll > 0.75 ? false : nil))
            }
        }
        for _ in 0..<Int.random(in: 0...2, using: &r) { restarts.append(Double.random(in: 1...28, using: &r)) }
        restarts.sort()
        operations = Self.operations(groups: layout.count, gated: !policy.approve.isEmpty, &r)
        admitted = Array(repeating: [], count: layout.count)
        waiting = Array(repeating: nil, count: layout.count)
        offered = Array(repeating: [], count: layout.count)
        end = 30 + 6 * timeout + 2 * policy.retryMaximum + policy.pause
        refusedByCanary = Array(repeating: [], count: layout.count)
        takeovers = Self.takeovers(seed)
        dials = Self.dials(seed, hosts: hosts)
        random = r
    }

    /// Adds a line to the trace (call only `if tracing`: the text costs).
    mutating func log(_ text: String) {
        trace.append(String(format: "%8.3f ", now) + text)
    }

    mutating func violation(_ text: String) {
        violations.append(String(format: "at %.3f s: ", now) + text)
    }

    /// Runs the schedule to its end and checks the end state.
    mutating func run() {
        cutAtStart()
        var stalled = 0
        while now < end {
            let nextEdit = edits.first?.at ?? .infinity
            var nextFlight = Double.infinity
            for f in flights where f.at < nextFlight { nextFlight = f.at }
            let nextRestart = restarts.first ?? .infinity
            let nextTakeover = takeovers.first ?? .infinity
            let nextOperation = operations.first?.at ?? .infinity
            let nextDial = dials.first?.at ?? .infinity
            var nextCheck = Double.infinity
            for case let at? in bounds where at < nextCheck { nextCheck = at }
            let next = min(
                nextEdit, nextFlight, nextRestart, nextTakeover, nextOperation, nextDial,
                coalescer.deadline ?? .infinity,
                machine.deadline ?? .infinity, nextCheck, end)
            stalled = next <= now ? stalled + 1 : 0
            if stalled > 10_000 {
                return violation("no progress: the machine asks for the same moment again and again")
            }
            now = max(now, next)
            if next == nextCheck {
                checkInTime()
            } else if next == nextRestart {
                restarts.removeFirst()
                restartedAt.append(now)
                restart()
            } else if next == nextTakeover {
                takeovers.removeFirst()
                restartedAt.append(now)
                takeover()
            } else if next == nextOperation {
                operate(operations.removeFirst().operation)
            } else if next == nextDial {
                dialed(dials.removeFirst().host)
            } else if next == nextEdit {
                let edit = edits.removeFirst()
                if let b = edit.broken { broken = b }
                if let b = edit.renderBroken { renderBroken = b }
                coalescer.add("edit\(Int.random(in: 0..<4, using: &random)).conf", at: now)
            } else if next == nextFlight, let i = flights.firstIndex(where: { $0.at == next }) {
                let flight = flights.remove(at: i)
                if flight.term < term {
                    land(orphan: flight)
                    continue
                }
                if flight.commits { hosts[flight.host].actual = flight.revision }
                if flight.asCanary, case .refused = flight.answer {
                    refusedByCanary[groupOf[flight.host]].insert(flight.revision)
                }
                if tracing { log("h\(flight.host) answers revision \(flight.revision): \(flight.answer)") }
                step(.answered(host: flight.host, flight.answer))
            } else if let due = coalescer.deadline, now >= due, coalescer.cut(at: now) != nil {
                cut()
            } else {
                step(.tick)
            }
        }
        checkEnd()
    }

    /// The start of a sender: the source compared whole with the head.
    mutating func cutAtStart() {
        if machine.head == 0 || coalescer.cutNow() != nil { cut() } else { step(.tick) }
    }

    mutating func cut() {
        let revision = max(machine.head, revisions.keys.max() ?? 0) + 1
        revisions[revision] = (broken, renderBroken)
        lastCut = now
        bounds = machine.groups.indices.map(bound)
        // Now and then a guard trips for a group: the revision waits for an operator there.
        var gates: [Int: String] = [:]
        for g in layout.indices where Double.random(in: 0...1, using: &random) < 0.05 { gates[g] = "guard tripped" }
        offer(revision, gates: gates)
        if tracing {
            log(
                "revision \(revision) cut\(broken ? " (broken)" : "")\(renderBroken ? " (render broken)" : "") \(gates)"
            )
        }
        step(.cut(revision: revision, gates: gates))
    }

    /// One event through the machine, its actions carried out, the invariants checked.
    mutating func step(_ event: Rollout.Event) {
        steps += 1
        let approvedBefore = machine.groups.map { $0.approved }
        let actions = machine.handle(event, now: now)
        let groups = machine.groups
        for g in groups.indices where groups[g].approved < approvedBefore[g] {
            violation("group \(groups[g].name)'s approved went back from \(approvedBefore[g]) to \(groups[g].approved)")
        }
        var answers: [Rollout.Event] = []
        for action in actions {
            guard case .send(let h, let revision, let from) = action else {
                if tracing { log("\(action)") }
                continue
            }
            let g = groupOf[h]
            let asCanary = machine.hosts[h].sending?.asCanary == true
            if tracing {
                log(
                    "send revision \(revision) to h\(h) from \(from.map(String.init) ?? "?")\(asCanary ? " as canary" : "")"
                )
            }
            if !asCanary && refusedByCanary[g].contains(revision) {
                violation("h\(h) got revision \(revision), which its group's canary refused")
            }
            if !admitted[g].contains(revision) {
                violation("h\(h) got revision \(revision), which its group was never let have")
            }
            if let from, from == revision { violation("h\(h) was sent revision \(revision), which it has") }
            fence[h] = term
            if let answer = deliver(h, revision, asCanary: asCanary) { answers.append(.answered(host: h, answer)) }
        }
        checkStep()
        for answer in answers { step(answer) }
    }

    /// What a host does with a delivery started now: an answer now (a render refusal) or later.
    mutating func deliver(_ h: Int, _ revision: Int, asCanary: Bool) -> Rollout.Answer? {
        let host = hosts[h], flags = revisions[revision]!
        if host.lacksAVariable && flags.renderBroken {
            if asCanary { refusedByCanary[groupOf[h]].insert(revision) }
            return .refused("render: undefined variable")
        }
        let refused = host.refusesBroken && flags.broken
        let answer: Rollout.Answer = refused ? .refused("rolled back: validation failed") : .applied
        var flight = Flight(
            host: h, revision: revision, asCanary: asCanary, at: now + host.latency, answer: answer, commits: !refused,
            term: term)
        switch host.behaviour(at: now) {
        case .healthy:
            // Now and then the answer is lost after the commit: the host has it, the sender does not know.
            if !refused && now < 25 && Double.random(in: 0...1, using: &random) < 0.03 {
                hosts[h].lostAnswers.append(now)
                flight.at = now + timeout
                flight.answer = .unreachable("timed out waiting for the result")
            }
        case .slow:
            flight.at = now + Double.random(in: 0.5...(timeout * 0.8), using: &random)
        case .down:
            (flight.at, flight.answer, flight.commits) = (now + 0.002, .unreachable("connection refused"), false)
        case .hung:
            (flight.at, flight.answer, flight.commits) = (now + timeout, .unreachable("timed out"), false)
        case .frozen(let until):
            if until + host.latency - now >= timeout {
                (flight.at, flight.answer, flight.commits) = (now + timeout, .unreachable("timed out"), false)
            } else {
                flight.at = until + host.latency
            }
        }
        flights.append(flight)
        return nil
    }

    /// A sender killed and started again: deliveries under way die (each committed or not),
    /// and the new machine starts from what the old one remembered.
    mutating func restart() {
        if tracing { log("sender restarts") }
        // A deposed leader's batch lands only where no newer leader said hello (the fence).
        for flight in flights
        where flight.commits && flight.term >= fence[flight.host] ?? 0 && Bool.random(using: &random) {
            hosts[flight.host].actual = flight.revision
        }
        flights.removeAll()
        adoptRememberedState()
    }

    /// A new machine from what the one before remembered (as JSON, as it is stored), checked
    /// against it: a host under way is compared whole, every group's pointers are kept.
    mutating func adoptRememberedState() {
        let before = machine
        let saved: RolloutState
        do {
            saved = try JSONDecoder().decode(RolloutState.self, from: JSONEncoder().encode(before.state))
        } catch {
            return violation("the state does not survive JSON: \(error)")
        }
        machine = Machine(layout: layout, policy: policy, state: saved, seed: random.next())
        for h in machine.hosts.indices {
            let old = before.hosts[h], new = machine.hosts[h]
            let expected = old.sending == nil ? old.applied : nil
            if new.applied != expected {
                violation(
                    "h\(h) restarted at \(String(describing: new.applied)), remembered \(String(describing: expected))")
            }
        }
        for (g, group) in machine.groups.enumerated() {
            let was = before.groups[g]
            if group.approved != was.approved || group.admitted != was.admitted
                || group.waiting?.revision != was.waiting?.revision
            {
                violation(
                    "group \(group.name) restarted at approved \(group.approved), admitted \(group.admitted), waiting \(String(describing: group.waiting?.revision)); was \(was.approved), \(was.admitted), \(String(describing: was.waiting?.revision))"
                )
            }
        }
        cutAtStart()
    }

    /// After every step: what the machine believes of a host is what the host has, and no
    /// host that could be served is left idle.
    mutating func checkStep() {
        let all = machine.hosts, groups = machine.groups
        for h in all.indices {
            let host = all[h]
            if let applied = host.applied, host.sending == nil, applied != hosts[h].actual {
                violation(
                    "the machine says h\(h) has revision \(applied), it has \(String(describing: hosts[h].actual))")
            }
            let desired = machine.desired(h)
            let due = host.notBefore.map { now >= $0 } ?? true
            let idle =
                host.sending == nil && !host.givenUp && due && desired > 0 && host.applied != desired
                && host.refused != desired && groups[groupOf[h]].halted == nil
            if idle { violation("h\(h) waits idle at \(String(describing: host.applied)), should have \(desired)") }
        }
    }

    /// The window before and after the last cut in which a host's trouble counts.
    var recent: ClosedRange<Double> { (lastCut - timeout - policy.retryMaximum)...end }

    /// By when group `g`'s hosts that were well since the source went quiet must have their
    /// revision: each spell of trouble near then may hold the canary's place once (a host
    /// that comes back is a canary again if it comes first, and may fail again).
    func bound(_ g: Int) -> Double {
        let troubled = machine.groups[g].hosts.reduce(0) { $0 + hosts[$1].troubles(in: recent) }
        return lastCut + Double(troubled + 1) * timeout + 2 * 0.3 + policy.pause + 0.01
    }

    /// At a group's bound: its hosts that were well all along have what they should.
    mutating func checkInTime() {
        for g in bounds.indices where bounds[g].map({ $0 <= now }) == true {
            // Trouble since the cut (an answer lost) moves the bound on.
            let due = bound(g)
            bounds[g] = due > now ? due : nil
            guard due <= now else { continue }
            guard lastCut > 0, machine.groups[g].halted == nil, !restartedAt.contains(where: { recent.contains($0) })
            else { continue }
            for h in machine.groups[g].hosts where !hosts[h].troubled(in: recent) {
                let host = machine.hosts[h], desired = machine.desired(h)
                guard desired > 0, host.refused != desired, host.applied != desired else { continue }
                violation(
                    "h\(h) of \(machine.groups[g].name) is at \(String(describing: host.applied)), not \(desired), \(String(format: "%.3f", now - lastCut)) s after the last cut (timeout \(timeout))"
                )
            }
        }
    }

    /// The end: every host in its group's place.
    mutating func checkEnd() {
        for (g, group) in machine.groups.enumerated() where group.halted == nil {
            let head = admitted[g].max() ?? 0
            let headHeld = group.held.map { $0.revision == head } ?? false
            if group.approved != head && !headHeld && group.canaries > 0 {
                violation("group \(group.name) ends at approved \(group.approved), admitted \(head), not held")
            }
            if group.canaries == 0 && group.approved != head {
                violation("group \(group.name) without canaries ends at \(group.approved), admitted \(head)")
            }
            for h in group.hosts {
                let host = machine.hosts[h], desired = machine.desired(h)
                guard host.refused != desired, desired > 0 else { continue }
                if host.applied != desired || hosts[h].actual != desired {
                    violation(
                        "h\(h) of \(group.name) ends at \(String(describing: host.applied)), should have \(desired)")
                }
            }
        }
    }
}
