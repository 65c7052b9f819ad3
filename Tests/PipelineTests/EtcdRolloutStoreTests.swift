import Foundation
import TestSupport
import Testing

@testable import Pipeline

/// The rollout's state in a real etcd: a leader writes only what changed, in fenced txns that
/// fit etcd's limit on operations; a standby reads back exactly what was written; a deposed
/// leader's write is refused and changes nothing.
@Suite(.serialized) struct EtcdRolloutStoreTests {
    static func state(hosts: Int, applied: Int) -> RolloutState {
        var s = RolloutState()
        s.head = applied
        var group = RolloutState.Group()
        group.approved = applied
        group.released = applied
        s.groups["functional"] = group
        s.groups["regression"] = RolloutState.Group()
        for i in 0..<hosts {
            var host = RolloutState.Host()
            host.applied = applied
            s.hosts["runner://web-\(i).example:8730/fpm"] = host
        }
        return s
    }

    @Test func aLeaderWritesWhatChangedAndAStandbyReadsItBack() async throws {
        try await withEtcd { etcd, endpoints in
            let lease = LeaderLease(
                client: EtcdClient(endpoints: endpoints, timeout: 5), pipeline: "p", name: "a", ttl: 10)
            guard case .leader(let token) = try lease.campaign() else { Issue.record("no lead"); return }
            let store = EtcdRolloutStore(client: EtcdClient(endpoints: endpoints, timeout: 5), pipeline: "p")
            var state = Self.state(hosts: 250, applied: 3)
            #expect(try store.save(state, token: token))
            #expect(store.writes == 3, "250 hosts and 3 more keys go in txns of 100")
            #expect(try store.save(state, token: token) && store.writes == 3, "nothing changed, nothing written")
            state.hosts["runner://web-7.example:8730/fpm"]?.applied = 4
            state.head = 4
            #expect(try store.save(state, token: token) && store.writes == 4, "one txn for one revision's changes")

            let standby = EtcdRolloutStore(client: EtcdClient(endpoints: endpoints, timeout: 5), pipeline: "p")
            #expect(try standby.load() == state)
        }
    }

    @Test func aDeposedLeaderWritesNothing() async throws {
        try await withEtcd { etcd, endpoints in
            let a = LeaderLease(client: EtcdClient(endpoints: endpoints, timeout: 5), pipeline: "p", name: "a", ttl: 10)
            let b = LeaderLease(client: EtcdClient(endpoints: endpoints, timeout: 5), pipeline: "p", name: "b", ttl: 10)
            guard case .leader(let old) = try a.campaign() else { Issue.record("no lead"); return }
            let stale = EtcdRolloutStore(client: EtcdClient(endpoints: endpoints, timeout: 5), pipeline: "p")
            #expect(try stale.save(Self.state(hosts: 2, applied: 1), token: old))
            a.resign()
            guard case .leader(let new) = try b.campaign() else { Issue.record("b does not lead"); return }
            let current = EtcdRolloutStore(client: EtcdClient(endpoints: endpoints, timeout: 5), pipeline: "p")
            _ = try current.load()
            let theirs = Self.state(hosts: 2, applied: 2)
            #expect(try current.save(theirs, token: new))
            #expect(try !stale.save(Self.state(hosts: 2, applied: 9), token: old), "the old leader is fenced")
            #expect(
                try EtcdRolloutStore(client: EtcdClient(endpoints: endpoints, timeout: 5), pipeline: "p").load()
                    == theirs)
        }
    }

    @Test func theAuditKeepsBothSendersEventsInOrderAndOnlyTheNewestThousand() async throws {
        try await withEtcd { etcd, endpoints in
            let a = LeaderLease(client: EtcdClient(endpoints: endpoints, timeout: 5), pipeline: "p", name: "a", ttl: 10)
            guard case .leader(let first) = try a.campaign() else { Issue.record("no lead"); return }
            let store = EtcdRolloutStore(
                client: EtcdClient(endpoints: endpoints, timeout: 5), pipeline: "p", author: "sender-a")
            let events = (0..<600).map {
                RolloutEvent(time: 1_000 + Double($0), kind: .approval, group: "web", revision: $0, by: "alice")
            }
            #expect(try store.save(Self.state(hosts: 1, applied: 1), audit: events, token: first))
            a.resign()
            let b = LeaderLease(client: EtcdClient(endpoints: endpoints, timeout: 5), pipeline: "p", name: "b", ttl: 10)
            guard case .leader(let second) = try b.campaign() else { Issue.record("b does not lead"); return }
            let next = EtcdRolloutStore(
                client: EtcdClient(endpoints: endpoints, timeout: 5), pipeline: "p", author: "sender-b")
            _ = try next.load()
            let later = (600..<1_003).map {
                RolloutEvent(time: 1_000 + Double($0), kind: .held, group: "web", revision: $0, why: "refused")
            }
            #expect(try next.save(Self.state(hosts: 1, applied: 2), audit: later, token: second))
            let kept = try EtcdClient(endpoints: endpoints, timeout: 5).range("/runner/p/audit/", prefix: true).kvs
            #expect(kept.count == 1_000)
            let revisions = kept.compactMap { try? JSONDecoder().decode(RolloutEvent.self, from: Data($0.value)) }
                .map(\.revision)
            #expect(revisions == Array(3..<1_003), "in time order, the three oldest dropped")
            #expect(kept.first?.key.contains("-sender-a-") == true && kept.last?.key.contains("-sender-b-") == true)
        }
    }
}
