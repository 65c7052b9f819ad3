import Pipeline
import RunnerSystem
import Testing

/// A leader's lease clock under many seeded schedules of renewals, delays and losses: it
/// never says "push" once etcd could have let the lease go, and with prompt answers it says
/// so without a gap.
@Suite struct LeaseClockTests {
    /// One renewal: when it was sent, when etcd got it (nil: lost on the way), when its answer
    /// came back (nil: lost or hung).
    struct Renewal {
        var sent: Double
        var received: Double?
        var answered: Double?
    }

    static func schedule(_ seed: UInt64, ttl: Double) -> [Renewal] {
        var random = SplitMix(state: seed)
        var renewals: [Renewal] = []
        var t = 0.0
        for _ in 0..<40 {
            let there =
                Double.random(in: 0...1, using: &random) < 0.8 ? t + Double.random(in: 0...ttl, using: &random) : nil
            let back = there.flatMap {
                Double.random(in: 0...1, using: &random) < 0.8 ? $0 + Double.random(in: 0...ttl, using: &random) : nil
            }
            renewals.append(Renewal(sent: t, received: there, answered: back))
            t += Double.random(in: 0.05...(ttl / 2), using: &random)
        }
        return renewals
    }

    /// When etcd lets the lease go: the first moment after a renewal it got (or the grant at 0)
    /// no other came within the TTL.
    static func expiry(_ renewals: [Renewal], ttl: Double) -> Double {
        var until = ttl  // granted at 0
        for r in renewals.sorted(by: { ($0.received ?? .infinity) < ($1.received ?? .infinity) }) {
            guard let at = r.received, at < until else { continue }
            until = max(until, at + ttl)
        }
        return until
    }

    @Test func itNeverSaysPushOnceEtcdCouldHaveLetTheLeaseGo() {
        for seed in UInt64(1)...2000 {
            let ttl = Double(1 + seed % 10)
            let renewals = Self.schedule(seed, ttl: ttl)
            let expiry = Self.expiry(renewals, ttl: ttl)
            var clock = LeaseClock(ttl: ttl)
            clock.renewed(sentAt: 0, granted: ttl)
            // Answers in the order they come; a renewal etcd got after the lease went is told "gone".
            let answers = renewals.compactMap { r in r.answered.map { (r, $0) } }.sorted { $0.1 < $1.1 }
            var now = 0.0
            for (renewal, at) in answers {
                // Every moment up to this answer, on a fine grid.
                while now < at {
                    #expect(
                        !clock.mayPush(at: now) || now < expiry, "seed \(seed): pushes at \(now), expired at \(expiry)")
                    now += 0.02
                }
                if let got = renewal.received, got < expiry {
                    clock.renewed(sentAt: renewal.sent, granted: ttl)
                } else {
                    clock.lost()
                }
            }
        }
    }

    @Test func promptAnswersKeepItPushingWithoutAGap() {
        var clock = LeaseClock(ttl: 10)
        clock.renewed(sentAt: 0, granted: 10)
        var now = 0.0
        while now < 100 {
            if now >= clock.nextRenewal() { clock.renewed(sentAt: now, granted: 10) }
            #expect(clock.mayPush(at: now))
            now += 0.1
        }
        // Renewals stop: pushing stops a margin before the lease would end.
        let last = clock.lastSent!
        #expect(clock.mayPush(at: last + 10 - clock.margin - 0.01) && !clock.mayPush(at: last + 10 - clock.margin))
    }
}
