import Foundation
import Pipeline
import RunnerSystem
import TestSupport
import Testing

/// Two senders' leader loops on one pipeline in a real etcd: exactly one leads; when it dies
/// (stops renewing) the other takes over, with a higher token, only once the first could no
/// longer push; a clean stop hands over at once.
@Suite(.serialized) struct LeaderLoopTests {
    static func token(_ loop: LeaderLoop) -> UInt64? {
        if case .leader(let token) = loop.snapshot.role { return token }
        return nil
    }

    @Test func oneLeadsAndOnItsDeathTheOtherTakesOverAfterIt() async throws {
        try await withEtcd { etcd, endpoints in
            let a = try LeaderLoop(endpoints: endpoints, pipeline: "p", name: "sender-a", ttl: 2, timeout: 5)
            #expect(await eventually(timeout: 10) { a.mayPush() }, "\(a.snapshot)")
            let b = try LeaderLoop(endpoints: endpoints, pipeline: "p", name: "sender-b", ttl: 2, timeout: 5)
            defer { b.stop(resign: true) }
            #expect(await eventually(timeout: 10) { b.snapshot.role == .standby(leader: "sender-a") }, "\(b.snapshot)")
            // a leads through its renewals.
            let first = try #require(Self.token(a))
            let granted = a.snapshot.validUntil
            #expect(await eventually(timeout: 10) { a.snapshot.validUntil > granted + 1 }, "a renews")
            #expect(a.mayPush() && !b.mayPush())

            a.stop(resign: false)  // as a process killed: the lease runs out by itself
            let aUntil = a.snapshot.validUntil
            #expect(await eventually(timeout: 10) { b.mayPush() }, "\(b.snapshot)")
            let second = try #require(Self.token(b))
            #expect(second > first)
            #expect(MonotonicClock.now > aUntil, "b pushes only once a no longer could")
        }
    }

    @Test func aCleanStopHandsOverAtOnce() async throws {
        try await withEtcd { etcd, endpoints in
            let a = try LeaderLoop(endpoints: endpoints, pipeline: "p", name: "a", ttl: 9, timeout: 5)
            #expect(await eventually(timeout: 10) { a.mayPush() })
            let b = try LeaderLoop(endpoints: endpoints, pipeline: "p", name: "b", ttl: 9, timeout: 5)
            defer { b.stop(resign: true) }
            #expect(await eventually(timeout: 10) { b.snapshot.role == .standby(leader: "a") })
            a.stop(resign: true)
            // A standby tries every TTL/3 (3 s): b leads before a's 9 s lease could have run out.
            #expect(await eventually(timeout: 6) { b.mayPush() }, "\(b.snapshot)")
        }
    }
}
