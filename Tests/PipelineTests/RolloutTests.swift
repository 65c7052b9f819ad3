import Foundation
import Pipeline
import Testing

/// The rollout machine's rules, one schedule each, written out (the simulation tries
/// thousands of others).
@Suite struct RolloutTests {
    /// A group "g" of `hosts` whose first `canaries` get each revision first, and a group
    /// "other" of one host (the last index) without canaries.
    struct Scenario {
        var m: Rollout
        var other: Int { m.hosts.count - 1 }
        /// Actions of the last event.
        var actions: [Rollout.Action] = []

        init(
            hosts: Int = 3, canaries: Int = 1, maxFailures: Int? = nil, pause: Double = 0, approve: Set<String> = [],
            state: RolloutState? = nil
        ) {
            m = Rollout(
                groups: [("g", (0..<hosts).map { "runner://g\($0)/m" }, true), ("other", ["runner://o0/m"], false)],
                policy: Rollout.Policy(canaries: canaries, maxFailures: maxFailures, pause: pause, approve: approve),
                state: state, seed: 1)
        }

        /// Handles an event; returns the sends to group "g"'s hosts (host → revision).
        mutating func on(_ event: Rollout.Event, at now: Double) -> [Int: Int] {
            actions = m.handle(event, now: now)
            var sends: [Int: Int] = [:]
            for case .send(let h, let revision, _) in actions where h != other { sends[h] = revision }
            return sends
        }

        /// Brings every host to revision 1, answering each delivery, letting pauses pass.
        mutating func start() {
            var now = 0.0
            var pending = Set(m.handle(.cut(revision: 1), now: now).compactMap(Self.host))
            while true {
                if let h = pending.first {
                    pending.remove(h)
                    pending.formUnion(m.handle(.answered(host: h, .applied), now: now).compactMap(Self.host))
                } else if let at = m.deadline {
                    now = at
                    pending.formUnion(m.handle(.tick, now: now).compactMap(Self.host))
                } else {
                    return
                }
            }
        }

        static func host(_ action: Rollout.Action) -> Int? {
            if case .send(let h, _, _) = action { return h }
            return nil
        }
    }

    @Test func aCanaryFirstThenTheRestWhileAnotherGroupGoesAtOnce() {
        var s = Scenario()
        #expect(s.on(.cut(revision: 1), at: 0) == [0: 1])
        #expect(s.actions.contains(.send(host: s.other, revision: 1, from: nil)), "group other does not wait")
        #expect(s.on(.answered(host: 0, .applied), at: 0.1) == [1: 1, 2: 1])
        #expect(s.actions.contains(.approved(group: 0, revision: 1)))
    }

    @Test func aHungCanaryIsPassedOverAndTheNextHostApprovesForTheRest() {
        var s = Scenario()
        s.start()
        #expect(s.on(.cut(revision: 2), at: 10) == [0: 2])
        // A revision cut meanwhile waits for the canary; no other host of g waits for it.
        #expect(s.on(.cut(revision: 3), at: 11) == [:])
        #expect(s.on(.answered(host: 0, .unreachable("timed out after 3s")), at: 13) == [1: 3])
        #expect(s.actions.contains(.canaryReplaced(group: 0, host: 0, next: 1)))
        #expect(s.on(.answered(host: 1, .applied), at: 13.1) == [2: 3])
        #expect(s.actions.contains(.approved(group: 0, revision: 3)))
        // The hung host is brought to the approved revision when its backoff ends, compared whole.
        #expect(s.on(.tick, at: s.m.deadline!) == [0: 3])
        #expect(s.actions.contains(.send(host: 0, revision: 3, from: nil)))
    }

    @Test func aRefusedCandidateHoldsTheGroupAndTheNextChangeGoesAgain() {
        var s = Scenario()
        s.start()
        _ = s.on(.cut(revision: 2), at: 10)
        #expect(s.on(.answered(host: 0, .refused("rolled back: php-fpm -t failed")), at: 10.2) == [:])
        #expect(
            s.actions.contains(.held(group: 0, revision: 2, why: "canary runner://g0/m rolled back: php-fpm -t failed"))
        )
        #expect(s.m.groups[0].approved == 1 && s.m.hosts[0].applied == 1 && s.m.hosts[0].refused == 2)
        // The fix: a new candidate, to the canary, then to every host.
        #expect(s.on(.cut(revision: 3), at: 20) == [0: 3])
        #expect(s.on(.answered(host: 0, .applied), at: 20.1) == [1: 3, 2: 3])
        #expect(s.m.groups[0].held == nil)
    }

    @Test func aTemplateRefusedForAHostThatIsNoCanaryHoldsOnlyThatHost() {
        var s = Scenario()
        s.start()
        _ = s.on(.cut(revision: 2), at: 10)
        _ = s.on(.answered(host: 0, .applied), at: 10.1)
        _ = s.on(.answered(host: 1, .applied), at: 10.2)
        _ = s.on(.answered(host: 2, .refused("refused: www.conf:3: undefined variable 'DB'")), at: 10.2)
        #expect(!s.actions.contains { if case .held = $0 { true } else { false } })
        #expect(s.m.groups[0].approved == 2 && s.m.hosts[2].applied == 1)
        #expect(s.on(.tick, at: 60) == [:], "the refused revision is not sent to it again")
        #expect(s.on(.cut(revision: 3), at: 70) == [0: 3])
        #expect(s.on(.answered(host: 0, .applied), at: 70.1) == [1: 3, 2: 3])
    }

    @Test func moreFailuresThanMaxFailuresHaltTheRestUntilTheNextApproval() {
        var s = Scenario(hosts: 4, maxFailures: 0)
        s.start()
        _ = s.on(.cut(revision: 2), at: 10)
        #expect(s.on(.answered(host: 0, .applied), at: 10.1) == [1: 2, 2: 2, 3: 2])
        _ = s.on(.answered(host: 1, .refused("rolled back")), at: 10.2)
        #expect(s.actions.contains { if case .halted(0, 2, _) = $0 { true } else { false } })
        // Those under way finish; nothing more starts for revision 2.
        _ = s.on(.answered(host: 2, .failed("connection reset")), at: 10.3)
        _ = s.on(.answered(host: 3, .applied), at: 10.4)
        #expect(s.on(.tick, at: 60) == [:], "host 2 is not tried again for revision 2")
        #expect(s.on(.cut(revision: 3), at: 70) == [0: 3])
        #expect(s.on(.answered(host: 0, .applied), at: 70.1) == [1: 3, 2: 3, 3: 3])
    }

    @Test func pauseWaitsBetweenTheCanariesAndTheRest() {
        var s = Scenario(pause: 5)
        s.start()
        _ = s.on(.cut(revision: 2), at: 100)
        #expect(s.on(.answered(host: 0, .applied), at: 100.1) == [:])
        #expect(s.m.deadline == 105.1)
        #expect(s.on(.tick, at: 105.1) == [1: 2, 2: 2])
    }

    @Test func aRestartRemembersWhatHostsConfirmedAndForgetsWhatWasUnderWay() throws {
        var s = Scenario()
        s.start()
        _ = s.on(.cut(revision: 2), at: 10)
        let saved = try JSONDecoder().decode(RolloutState.self, from: JSONEncoder().encode(s.m.state))
        var restarted = Scenario(state: saved)
        #expect(restarted.m.head == 2 && restarted.m.groups[0].approved == 1)
        #expect(restarted.m.hosts.map(\.applied) == [nil, 1, 1, nil], "the canary and o0 were under way")
        // Nothing a host confirmed goes again; what was under way goes, compared whole.
        #expect(restarted.on(.tick, at: 0) == [0: 2])
        #expect(restarted.actions.contains(.send(host: 3, revision: 2, from: nil)))
        #expect(restarted.on(.tick, at: 0).isEmpty && restarted.actions.isEmpty)
    }

    @Test func aGatedGroupWaitsForAnOperatorAndASecondApprovalIsANoOp() {
        var s = Scenario(approve: ["g"])
        #expect(s.on(.cut(revision: 1), at: 0) == [:])
        #expect(s.actions.contains(.waiting(group: 0, revision: 1, why: "waiting for approval")))
        #expect(s.actions.contains(.send(host: s.other, revision: 1, from: nil)), "group other is not gated")
        // A newer cut waits in its place, since the first one's time.
        #expect(s.on(.cut(revision: 2), at: 5) == [:])
        #expect(s.m.groups[0].waiting?.revision == 2 && s.m.groups[0].waiting?.since == 0)
        #expect(s.on(.approve(group: 0, revision: 2), at: 9) == [0: 2])
        #expect(s.m.groups[0].waiting == nil)
        #expect(s.on(.approve(group: 0, revision: 2), at: 9.5) == [:] && s.m.groups[0].admitted == 2)
        #expect(s.on(.answered(host: 0, .applied), at: 10) == [1: 2, 2: 2])
    }

    @Test func aTrippedGuardHoldsItsRevisionAndEveryLaterOneUntilApprovedOrRejected() {
        var s = Scenario()
        s.start()
        #expect(s.on(.cut(revision: 2, gates: [0: "300 of 1000 paths deleted"]), at: 10) == [:])
        // What comes after contains the mass change: it waits too, for the same reason.
        #expect(s.on(.cut(revision: 3), at: 11) == [:])
        #expect(s.actions.contains(.waiting(group: 0, revision: 3, why: "300 of 1000 paths deleted")))
        _ = s.on(.reject(group: 0), at: 12)
        #expect(s.m.groups[0].waiting == nil && s.m.groups[0].admitted == 1)
        #expect(s.on(.cut(revision: 4), at: 20) == [0: 4], "a cut after a rejection is a new candidate")
    }

    @Test func aRollbackGoesToItsGroupAloneThroughItsCanary() {
        var s = Scenario()
        s.start()
        _ = s.on(.cut(revision: 2), at: 10)
        _ = s.on(.answered(host: 0, .refused("rolled back: php-fpm -t failed")), at: 10.2)
        #expect(s.on(.rollback(group: 0, revision: 3), at: 20) == [0: 3])
        #expect(!s.actions.contains { if case .send(s.other, _, _) = $0 { true } else { false } })
        #expect(s.on(.answered(host: 0, .applied), at: 20.1) == [1: 3, 2: 3])
        #expect(s.m.groups[0].approved == 3 && s.m.groups[1].approved == 2)
    }
}
