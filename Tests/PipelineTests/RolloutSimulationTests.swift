import Foundation
import Pipeline
import Testing

/// The rollout machine under ten thousand seeded schedules of hosts that are down, hung,
/// slow, flapping, frozen then thawed, refusing, or failing to render, with sender restarts
/// and takeovers by a standby whose deposed leader's batches still land unless fenced
/// (`RolloutSimulation`, `+Takeover`). Every run draws new seeds; a failure names its seed, and
/// `RUNNER_SIM_SEED=<seed> swift test --filter RolloutSimulationTests` replays it with a trace.
/// The two wedges the machine replaced, planted back around it in the old code's shape,
/// are found within the same budget.
@Suite struct RolloutSimulationTests {
    /// Schedules per test: ten thousand (`RUNNER_SIM_SCHEDULES` asks for fewer under a sanitizer).
    static let schedules = ProcessInfo.processInfo.environment["RUNNER_SIM_SCHEDULES"].flatMap(Int.init) ?? 10_000

    /// Runs schedules from `seeds` until one breaks an invariant; returns it, with how many ran.
    static func explore<Machine: SimulatedMachine>(_ machine: Machine.Type, seeds: [UInt64]) -> (
        failure: Simulation<Machine>?, ran: Int, steps: Int
    ) {
        var steps = 0
        for (i, seed) in seeds.enumerated() {
            var simulation = Simulation<Machine>(seed: seed)
            simulation.run()
            steps += simulation.steps
            if !simulation.violations.isEmpty { return (simulation, i + 1, steps) }
        }
        return (nil, seeds.count, steps)
    }

    static func seeds(_ count: Int) -> [UInt64] {
        if let one = ProcessInfo.processInfo.environment["RUNNER_SIM_SEED"].flatMap(UInt64.init) { return [one] }
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in generator.next() }
    }

    static func report<Machine: SimulatedMachine>(_ failure: Simulation<Machine>) -> String {
        var traced = Simulation<Machine>(seed: failure.seed, tracing: true)
        traced.run()
        // The whole trace with RUNNER_SIM_TRACE=all; the last 60 lines otherwise.
        let all = ProcessInfo.processInfo.environment["RUNNER_SIM_TRACE"] == "all"
        let shown = traced.trace.suffix(all ? .max : 60).joined(separator: "\n")
        return """
            seed \(failure.seed): \(failure.violations.prefix(3).joined(separator: "; "))
            replay: RUNNER_SIM_SEED=\(failure.seed) swift test --filter RolloutSimulationTests
            the last of its trace:
            \(shown)
            """
    }

    @Test func everyScheduleKeepsEveryInvariant() async {
        let started = Date()
        // Two halves at once: the machine is a value, each schedule its own.
        let seeds = Self.seeds(Self.schedules)
        let half = (seeds.count + 1) / 2
        async let first = Self.explore(Rollout.self, seeds: Array(seeds[..<half]))
        async let second = Self.explore(Rollout.self, seeds: Array(seeds[half...]))
        let (a, b) = await (first, second)
        let failure = a.failure ?? b.failure, ran = a.ran + b.ran, steps = a.steps + b.steps
        let seconds = Date().timeIntervalSince(started)
        print(
            "simulation: \(ran) schedules, \(steps) events in \(String(format: "%.1f", seconds)) s (\(Int(Double(ran) / seconds)) schedules/s)"
        )
        #expect(failure == nil ? true : false, "\(failure.map(Self.report) ?? "")")
    }

    @Test func theHungHostWedgeIsFound() {
        let (failure, ran, _) = Self.explore(WaitsForEveryHost.self, seeds: Self.seeds(Self.schedules))
        print(
            "planted wedge (a group waits for every host): found after \(ran) schedule(s), seed \(failure?.seed ?? 0): \(failure?.violations.first ?? "")"
        )
        #expect(failure != nil ? true : false, "the simulation did not find a group that waits for a hung host")
    }

    @Test func theRenderRefusalWedgeIsFound() {
        let (failure, ran, _) = Self.explore(LosesRenderRefusals.self, seeds: Self.seeds(Self.schedules))
        print(
            "planted wedge (a canary refused at render waits): found after \(ran) schedule(s), seed \(failure?.seed ?? 0): \(failure?.violations.first ?? "")"
        )
        #expect(
            failure != nil ? true : false, "the simulation did not find a canary left waiting after a render refusal")
    }
}

/// The first wedge, planted in the old code's shape: a group takes its next revision only once
/// every one of its hosts has applied the last (`GroupRollout.Phase.rolling(waiting:)`), so a
/// host that times out and retries holds its group forever. One machine per group.
struct WaitsForEveryHost: SimulatedMachine {
    var machines: [Rollout]
    /// A cut a group has not been told of yet, and why it waits for an operator there.
    var held: [(revision: Int, gate: String?)?]
    let offsets: [Int]

    init(
        layout: [(name: String, hosts: [String], staged: Bool)], policy: Rollout.Policy, state: RolloutState?,
        seed: UInt64
    ) {
        machines = layout.map { Rollout(groups: [$0], policy: policy, state: state, seed: seed) }
        held = Array(repeating: nil, count: layout.count)
        var offsets: [Int] = []
        var n = 0
        for g in layout {
            offsets.append(n)
            n += g.hosts.count
        }
        self.offsets = offsets
    }

    private func locate(_ h: Int) -> (g: Int, local: Int) {
        let g = offsets.lastIndex { $0 <= h }!
        return (g, h - offsets[g])
    }

    private func settled(_ g: Int) -> Bool {
        let m = machines[g]
        return m.hosts.allSatisfy { $0.sending == nil && ($0.applied ?? 0) >= m.groups[0].released }
    }

    mutating func handle(_ event: Rollout.Event, now: Double) -> [Rollout.Action] {
        var actions: [Rollout.Action] = []
        func run(_ g: Int, _ event: Rollout.Event) {
            for action in machines[g].handle(event, now: now) { actions.append(map(action, g)) }
        }
        switch event {
        case .answered(let h, let answer):
            let (g, local) = locate(h)
            run(g, .answered(host: local, answer))
        case .dialed(let h):
            let (g, local) = locate(h)
            run(g, .dialed(host: local))
        case .cut(let revision, let gates):
            for g in machines.indices { held[g] = (revision, gates[g]) }
        case .rollback(let g, let revision): run(g, .rollback(group: 0, revision: revision))
        case .approve(let g, let revision): run(g, .approve(group: 0, revision: revision))
        case .reject(let g): run(g, .reject(group: 0))
        default:
            for g in machines.indices { run(g, event) }
        }
        for g in machines.indices where held[g] != nil && settled(g) {
            let (revision, gate) = held[g]!
            held[g] = nil
            run(g, .cut(revision: revision, gates: gate.map { [0: $0] } ?? [:]))
        }
        return actions
    }

    private func map(_ action: Rollout.Action, _ g: Int) -> Rollout.Action {
        let o = offsets[g]
        switch action {
        case .send(let h, let r, let from): return .send(host: h + o, revision: r, from: from)
        case .approved(_, let r): return .approved(group: g, revision: r)
        case .released(_, let r): return .released(group: g, revision: r)
        case .held(_, let r, let why): return .held(group: g, revision: r, why: why)
        case .halted(_, let r, let why): return .halted(group: g, revision: r, why: why)
        case .waiting(_, let r, let why): return .waiting(group: g, revision: r, why: why)
        case .canaryReplaced(_, let h, let next):
            return .canaryReplaced(group: g, host: h + o, next: next.map { $0 + o })
        case .down(let h, let why): return .down(host: h + o, why: why)
        case .back(let h): return .back(host: h + o)
        }
    }

    var hosts: [HostState] { machines.flatMap(\.hosts) }
    var groups: [GroupState] { machines.map { $0.groups[0] } }
    var head: Int { machines.map(\.head).max() ?? 0 }
    var deadline: Double? { machines.compactMap(\.deadline).min() }
    var state: RolloutState {
        var s = RolloutState()
        for m in machines {
            s.head = max(s.head, m.head)
            s.groups.merge(m.state.groups) { $1 }
            s.hosts.merge(m.state.hosts) { $1 }
        }
        return s
    }
    func desired(_ h: Int) -> Int {
        let (g, local) = locate(h)
        return machines[g].desired(local)
    }
}

/// The second wedge, planted in the old code's shape: a canary whose templates would not
/// render was given nothing (`render.held`) and its group went on waiting for its answer.
struct LosesRenderRefusals: SimulatedMachine {
    var machine: Rollout

    init(
        layout: [(name: String, hosts: [String], staged: Bool)], policy: Rollout.Policy, state: RolloutState?,
        seed: UInt64
    ) {
        machine = Rollout(groups: layout, policy: policy, state: state, seed: seed)
    }

    mutating func handle(_ event: Rollout.Event, now: Double) -> [Rollout.Action] {
        if case .answered(_, .refused(let why)) = event, why.hasPrefix("render") { return [] }
        return machine.handle(event, now: now)
    }

    var hosts: [HostState] { machine.hosts }
    var groups: [GroupState] { machine.groups }
    var head: Int { machine.head }
    var deadline: Double? { machine.deadline }
    var state: RolloutState { machine.state }
    func desired(_ h: Int) -> Int { machine.desired(h) }
}
