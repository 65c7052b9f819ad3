import Testing

@testable import Pipeline

/// When a module that dials its sender dials next: at once at start, soon after a session,
/// backing off (jittered, up to a minute) while the sender cannot be reached, and a minute
/// after a refusal.
@Suite struct DialScheduleTests {
    @Test func failuresBackOffToAMinuteWithJitterAndASessionStartsOver() {
        var s = DialSchedule(now: 100)
        #expect(s.due == 100)
        var waits: [Double] = []
        for i in 0..<10 { waits.append(s.ended(.failed, now: Double(200 + i), draw: 0.5)) }
        #expect(waits.prefix(7) == [1, 2, 4, 8, 16, 32, 60])
        #expect(waits.suffix(3).allSatisfy { $0 == 60 })
        #expect(s.due == 209 + 60)
        #expect(s.ended(.served, now: 300, draw: 0.5) == 0.2)
        #expect(s.ended(.failed, now: 301, draw: 0.5) == 1)
        #expect(s.ended(.refused, now: 302, draw: 0.5) == 60)
    }

    @Test(arguments: [0.0, 0.25, 0.999, 1.0])
    func jitterStaysWithinAFifth(draw: Double) {
        var s = DialSchedule(now: 0)
        for _ in 0..<4 { s.ended(.failed, now: 0, draw: 0.5) }
        let wait = s.ended(.failed, now: 0, draw: draw)
        #expect(wait >= 16 * 0.8 - 1e-9 && wait <= 16 * 1.2 + 1e-9, "\(wait)")
    }

    @Test func theExitStatusCarriesTheOutcome() {
        for outcome in [DialSchedule.Outcome.served, .failed, .refused] {
            #expect(DialSchedule.outcome(status: DialSchedule.status(outcome)) == outcome)
        }
        #expect(DialSchedule.outcome(status: 70) == .failed)
    }
}
