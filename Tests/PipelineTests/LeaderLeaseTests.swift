import Foundation
import Pipeline
import RunnerSystem
import TestSupport
import Testing

/// Two senders' claims on one pipeline in a real etcd: one leads with a token, the other
/// stands by; when the leader stops renewing, its clock runs out before the standby can take
/// over, with a higher token; a leader cut off from etcd stops before its lease could end.
@Suite(.serialized) struct LeaderLeaseTests {
    @Test func oneLeadsAndTheOtherTakesOverOnlyAfterTheFirstHasStopped() async throws {
        try await withEtcd { etcd, endpoints in
            let a = LeaderLease(
                client: EtcdClient(endpoints: endpoints, timeout: 5), pipeline: "p", name: "sender-a", ttl: 2)
            let b = LeaderLease(
                client: EtcdClient(endpoints: endpoints, timeout: 5), pipeline: "p", name: "sender-b", ttl: 2)
            guard case .leader(let first) = try a.campaign() else { Issue.record("a does not lead"); return }
            #expect(try b.campaign() == .standby(leader: "sender-a"))
            #expect(a.mayPush() && !b.mayPush())
            try a.renew()
            // a dies (stops renewing): b takes over once etcd let a's lease go, never before a stopped.
            var took: Double?
            for _ in 0..<100 where took == nil {
                if case .leader = try b.campaign() { took = MonotonicClock.now }
                try await Task.sleep(for: .milliseconds(100))
            }
            let at = try #require(took, "b never took over")
            #expect(!a.mayPush(at: at), "a could still push when b took over")
            guard case .leader(let second) = b.role else { Issue.record("b does not lead"); return }
            #expect(second > first, "the new leader's token is higher")
        }
    }

    @Test func aResignHandsOverAtOnce() async throws {
        try await withEtcd { etcd, endpoints in
            let a = LeaderLease(
                client: EtcdClient(endpoints: endpoints, timeout: 5), pipeline: "p", name: "sender-a", ttl: 30)
            let b = LeaderLease(
                client: EtcdClient(endpoints: endpoints, timeout: 5), pipeline: "p", name: "sender-b", ttl: 30)
            _ = try a.campaign()
            a.resign()
            #expect(!a.mayPush())
            guard case .leader = try b.campaign() else { Issue.record("b does not lead after a resigned"); return }
        }
    }

    @Test func aLeaderCutOffFromEtcdStopsBeforeItsLeaseCouldEnd() async throws {
        try await withEtcd { etcd, endpoints in
            // Deadlines with room for a loaded machine; the lease longer than one.
            let a = LeaderLease(
                client: EtcdClient(endpoints: endpoints, timeout: 1.5), pipeline: "p", name: "a", ttl: 4)
            _ = try a.campaign()
            try a.renew()
            let renewed = try #require(a.clock.lastSent)
            etcd.signal(0, SIGSTOP)
            defer { etcd.signal(0, SIGCONT) }
            #expect(throws: EtcdError.self) { try a.renew() }
            // It pushes on its last answered renewal, and stops a margin before that lease ends.
            #expect(a.mayPush(at: renewed + 4 - a.clock.margin - 0.01))
            #expect(!a.mayPush(at: renewed + 4 - a.clock.margin))
            #expect(a.clock.validUntil < renewed + 4)
        }
    }
}
