import Foundation
import Pipeline
import RunnerSystem
import TestSupport
import Testing

/// The etcd client against a real etcd (Debian's etcd-server) on loopback ports: keys and
/// values round-trip as bytes, a txn creates only what is absent, a lease takes its keys with
/// it, a watch sees puts and deletes and says when its start was compacted, a dead or frozen
/// member is passed over or timed out, never waited on.
@Suite(.serialized) struct EtcdClientTests {
    @Test func anEndpointIsAnHTTPHostAndPortWithoutAPath() {
        #expect(EtcdEndpoint("http://127.0.0.1:23790").map { "\($0)" } == "http://127.0.0.1:23790")
        #expect(EtcdEndpoint("http://etcd1/").map { "\($0)" } == "http://etcd1:2379")
        #expect(EtcdEndpoint("http://[::1]:2379").map { "\($0)" } == "http://[::1]:2379")
        for bad in ["https://etcd1", "http://etcd1/v3", "http://u@etcd1", "http://etcd1:0", "http://", "etcd1:2379"] {
            #expect(EtcdEndpoint(bad) == nil, "\(bad)")
        }
    }

    @Test func keysAndValuesRoundTripAndAPrefixRangesThem() async throws {
        try await withEtcd { etcd, endpoints in
            let client = EtcdClient(endpoints: endpoints, timeout: 5)
            let binary: [UInt8] = [0, 1, 0xFF, 0x80, 10]
            try client.put("/runner/p/a", binary)
            try client.put("/runner/p/b", Array("two".utf8))
            try client.put("/runner/q", Array("other".utf8))
            let (kvs, revision) = try client.range("/runner/p/", prefix: true)
            #expect(kvs.map(\.key) == ["/runner/p/a", "/runner/p/b"])
            #expect(kvs.first?.value == binary && revision >= kvs.map(\.modRevision).max()!)
            #expect(try client.range("/runner/none").kvs.isEmpty)
        }
    }

    @Test func aTxnCreatesOnlyWhatIsAbsentAndSaysWhatIsThere() async throws {
        try await withEtcd { etcd, endpoints in
            let client = EtcdClient(endpoints: endpoints, timeout: 5)
            func claim(_ name: String) throws -> EtcdClient.TxnResult {
                try client.txn(
                    [.createRevision("/runner/p/leader", equals: 0)],
                    success: [.put("/runner/p/leader", Array(name.utf8))],
                    failure: [.range("/runner/p/leader")])
            }
            let first = try claim("sender-a")
            #expect(first.succeeded)
            let second = try claim("sender-b")
            #expect(!second.succeeded)
            #expect(second.ranges.first?.first?.value == Array("sender-a".utf8))
            let created = try #require(second.ranges.first?.first?.createRevision)
            // Fenced on create_revision: a write only while the key is the one this holder made.
            let fenced = try client.txn(
                [.createRevision("/runner/p/leader", equals: created)], success: [.put("/runner/p/head", [1])])
            #expect(fenced.succeeded)
            let stale = try client.txn(
                [.createRevision("/runner/p/leader", equals: created - 1)], success: [.put("/runner/p/head", [2])])
            let head = try client.range("/runner/p/head").kvs.first?.value
            #expect(!stale.succeeded && head == [1])
        }
    }

    @Test func aLeaseTakesItsKeysWithItAndADeadOneSaysSo() async throws {
        try await withEtcd { etcd, endpoints in
            let client = EtcdClient(endpoints: endpoints, timeout: 5)
            let lease = try client.grantLease(ttl: 5)
            #expect(lease.ttl == 5, "TTL in capitals: a lowercase key would give 2 s")
            try client.put("/runner/p/leader", Array("a".utf8), lease: lease.id)
            #expect(try client.keepAlive(lease.id) == 5)
            #expect(try client.range("/runner/p/leader").kvs.first?.lease == lease.id)
            try client.revoke(lease.id)
            #expect(try client.range("/runner/p/leader").kvs.isEmpty)
            #expect(try client.keepAlive(lease.id) == nil)
        }
    }

    @Test func aWatchSeesChangesAndSaysWhenItsStartWasCompacted() async throws {
        try await withEtcd { etcd, endpoints in
            let client = EtcdClient(endpoints: endpoints, timeout: 5)
            let watch = try EtcdWatch(endpoints: endpoints, key: "/runner/p/", prefix: true, timeout: 5)
            #expect(try watch.next(until: MonotonicClock.now + 0.3) == .idle)
            let put = try client.put("/runner/p/head", Array("7".utf8))
            guard case .events(let events, let revision) = try watch.next(until: MonotonicClock.now + 5) else {
                Issue.record("no events")
                return
            }
            #expect(revision == put && events.count == 1)
            guard case .put(let kv) = events.first else { Issue.record("not a put"); return }
            #expect(kv.key == "/runner/p/head" && kv.value == Array("7".utf8))
            #expect(
                try sh("etcdctl --endpoints=\(etcd.endpoints[0]) del /runner/p/head", in: etcd.directory).status == 0)
            #expect(
                try watch.next(until: MonotonicClock.now + 5)
                    == .events([.delete(key: "/runner/p/head", modRevision: put + 1)], revision: put + 1))

            for i in 0..<5 { try client.put("/runner/p/n", Array("\(i)".utf8)) }
            let now = try client.range("/runner/p/n").revision
            #expect(try sh("etcdctl --endpoints=\(etcd.endpoints[0]) compact \(now)", in: etcd.directory).status == 0)
            let late = try EtcdWatch(
                endpoints: endpoints, key: "/runner/p/", prefix: true, from: put, timeout: 5)
            #expect(try late.next(until: MonotonicClock.now + 5) == .compacted(now))
        }
    }

    @Test func aDeadMemberIsPassedOverAndAFrozenClusterTimesOut() async throws {
        try await withEtcd(members: 3) { etcd, endpoints in
            // The member killed is a follower, first in the client's list: killing the raft
            // leader would make the next put wait out an election, which on a loaded machine
            // ran past the client's deadline (CI saw it), and that is not what is tested here.
            let leader = try (0..<3).first { try isLeader(etcd.endpoints[$0], in: etcd.directory) } ?? 0
            let victim = leader == 0 ? 1 : 0
            let order = [victim] + (0..<3).filter { $0 != victim }
            let client = EtcdClient(endpoints: order.map { endpoints[$0] }, timeout: 3)
            try client.put("/runner/p/x", [1])
            etcd.signal(victim, SIGKILL)
            try client.put("/runner/p/x", [2])
            #expect(try client.range("/runner/p/x").kvs.first?.value == [2])
            let health = client.health()
            #expect(health.map(\.healthy) == [false, true, true], "\(health)")

            // No member answers: the call gives up at its deadline, saying so.
            let others = order.dropFirst()
            for m in others { etcd.signal(m, SIGSTOP) }
            let started = MonotonicClock.now
            #expect(throws: EtcdError.self) { try client.put("/runner/p/x", [3]) }
            #expect(MonotonicClock.now - started < 4.5)
            for m in others { etcd.signal(m, SIGCONT) }
        }
    }

    /// Whether the member at `endpoint` leads its cluster now (`etcdctl endpoint status`).
    private func isLeader(_ endpoint: String, in directory: String) throws -> Bool {
        let status = try sh("etcdctl --endpoints=\(endpoint) endpoint status -w fields", in: directory)
        func field(_ name: String) -> Substring? {
            status.output.split(separator: "\n").first { $0.hasPrefix("\"\(name)\" : ") }?.split(separator: " ").last
        }
        return field("MemberID") != nil && field("MemberID") == field("Leader")
    }
}
