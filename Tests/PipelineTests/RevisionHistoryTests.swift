import TestSupport
import Testing

@testable import Pipeline

/// What `runner log` makes of a pipeline's records, rollout state and history.
@Suite struct RevisionHistoryTests {
    static func record(_ number: Int) -> RevisionRecord {
        RevisionRecord(
            number: number, parent: number > 1 ? number - 1 : nil, root: String(repeating: "0", count: 32),
            rootMode: 0o755, rootSeconds: 0, rootNanoseconds: 0, time: Double(number), author: "ops@edit",
            changed: ["pool\(number).conf"], changedCount: 1, note: nil)
    }

    static let groups: [(name: String, hosts: [String], staged: Bool)] = [
        ("functional", ["h1", "h2"], true), ("regression", ["h3"], false),
    ]

    @Test func aHeldRevisionStaysHeldAfterANewerOneIsApproved() {
        var state = RolloutState()
        state.groups["functional"] = RolloutState.Group(approved: 3, released: 3)
        state.groups["regression"] = RolloutState.Group(approved: 3, released: 3)
        state.hosts["h1"] = RolloutState.Host(applied: 3)
        state.hosts["h2"] = RolloutState.Host(applied: 1)
        state.hosts["h3"] = RolloutState.Host(applied: 3)
        let events = [
            RolloutEvent(time: 1, kind: .approved, group: "functional", revision: 1),
            RolloutEvent(time: 2, kind: .held, group: "functional", revision: 2, why: "php-fpm -t failed"),
            RolloutEvent(time: 3, kind: .approved, group: "functional", revision: 3),
        ]
        let history = RevisionHistory(
            pipeline: "p", records: (1...3).map(Self.record), groups: Self.groups, state: state, events: events)
        #expect(history.revisions.map(\.number) == [3, 2, 1])
        let functional = history.revisions.map { $0.groups[0] }
        #expect(functional.map(\.state) == [.approved, .held, .approved])
        #expect(functional[1].why == "php-fpm -t failed")
        #expect(functional.map(\.hostsAt) == [1, 0, 1])
        // A group without canaries approves every revision as it is cut.
        #expect(history.revisions.map { $0.groups[1].state } == [.approved, .approved, .approved])
    }

    @Test func theHeadAtTheCanariesIsTryingAndAnOlderOneSkippedIsSuperseded() {
        var state = RolloutState()
        state.groups["functional"] = RolloutState.Group(approved: 1, released: 1)
        state.groups["regression"] = RolloutState.Group(approved: 3, released: 3)
        let history = RevisionHistory(
            pipeline: "p", records: (1...3).map(Self.record), groups: Self.groups, state: state, events: [])
        #expect(history.revisions.map { $0.groups[0].state } == [.trying, .superseded, .approved])
    }

    @Test func theHistoryForgetsCollectedRevisionsOnceItIsLarge() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let history = RolloutHistory(directory: dir.path)
        let why = String(repeating: "x", count: 1000)
        for r in 1...1200 { try history.append(RolloutEvent(time: 0, kind: .held, group: "g", revision: r, why: why)) }
        try history.trim(before: 1100)
        try history.append(RolloutEvent(time: 0, kind: .approved, group: "g", revision: 1201))
        let left = RolloutHistory.read(directory: dir.path)
        #expect(left.map(\.revision) == Array(1100...1201))
        // A small history is left alone.
        try history.trim(before: 1200)
        #expect(RolloutHistory.read(directory: dir.path).count == 102)
    }
}
