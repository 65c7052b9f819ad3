import Pipeline
import RunnerSystem
import TestSupport
import Testing

/// Batches are cut after `delay` of quiet, or at `maxDelay` after the first event.
@Suite struct CoalescerTests {
    @Test func batchIsCutAfterQuietDelay() {
        var c = Coalescer(delay: 0.25, maxDelay: 5)
        c.add("a", at: 10.0)
        c.add("b", at: 10.25)
        #expect(c.deadline == 10.5)
        #expect(c.cut(at: 10.4) == nil)
        let batch = c.cut(at: 10.5)
        #expect(batch?.paths == ["a", "b"])
        #expect(c.deadline == nil)
    }

    @Test func eachPathAppearsOnce() {
        var c = Coalescer(delay: 0, maxDelay: 1)
        for _ in 0..<100 { c.add("same", at: 1) }
        #expect(c.cutNow()?.paths == ["same"])
    }

    @Test func continuousEventsAreCutAtMaxDelay() {
        var c = Coalescer(delay: 0.5, maxDelay: 2)
        var t = 0.0
        while t < 1.9 {
            c.add("p\(Int(t * 10))", at: t)
            t += 0.1
        }
        #expect(c.deadline == 2.0)
        #expect(c.cut(at: 2.0) != nil)
    }

    @Test func ignoredPathsDoNotStartABatch() {
        var c = Coalescer(delay: 0.1, maxDelay: 1)
        c.addIgnored(".a.swp", reason: "vim", at: 1, startsBatch: false)
        #expect(c.deadline == nil)
        c.add("a", at: 2)
        let batch = c.cut(at: 3)
        #expect(batch?.paths == ["a"])
        #expect(batch?.ignored.map(\.path) == [".a.swp"])
    }

    @Test func aHeldChangeOfferedAgainNeverHidesWhatCameSince() {
        var c = Coalescer(delay: 0, maxDelay: 1)
        c.add("hold.conf", .deleted, at: 1)
        c.addEarlier("hold.conf", .written, at: 1)
        c.addEarlier("other.conf", .written, at: 1)
        #expect(c.cutNow()?.changes == ["hold.conf": .deleted, "other.conf": .written])
    }

    @Test func overflowAsksForAFullRescan() {
        var c = Coalescer(delay: 0, maxDelay: 0)
        c.addRescan(at: 1)
        #expect(c.cut(at: 1)?.fullRescan == true)
    }
}

/// Burst-aware cuts: a lone change keeps its latency, a tool writing one file after another
/// makes few batches, and no change ever waits past `maxDelay`, under seeded schedules.
@Suite struct BurstTests {
    /// Feeds `events` (times) to a coalescer and returns each batch's (first event, cut time).
    static func batches(_ events: [Double], delay: Double = 0.2, maxDelay: Double = 10) -> [(
        first: Double, cut: Double
    )] {
        var c = Coalescer(delay: delay, maxDelay: maxDelay)
        var cuts: [(Double, Double)] = []
        var pending = events.sorted()[...]
        while true {
            let next = min(pending.first ?? .infinity, c.deadline ?? .infinity)
            guard next < .infinity else { return cuts }
            if let due = c.deadline, due <= next, let batch = c.cut(at: due) {
                cuts.append((batch.firstEvent!, due))
            } else {
                c.add("f\(pending.count)", at: pending.removeFirst())
            }
        }
    }

    @Test func aLoneEditGoesOutAfterDelay() {
        #expect(Self.batches([5]).map { ($0.cut * 1000).rounded() } == [5200])
        // Edits seconds apart are each lone.
        #expect(Self.batches([1, 4, 9]).map { ($0.cut * 1000).rounded() } == [1200, 4200, 9200])
    }

    @Test func aWriterThatWaitsForEachChangeKeepsItsLatency() {
        // Each change 30 ms after the last batch was cut (a script that waits for arrival): one
        // batch is widened, nothing joins it, and every later change goes after `delay`.
        var c = Coalescer(delay: 0.05, maxDelay: 10)
        var t = 0.0
        for i in 0..<50 {
            c.add("f\(i)", at: t)
            let due = c.deadline!
            #expect(due - t <= (i == 1 ? 0.2 : 0.05) + 1e-9, "change \(i) waits \(due - t) s")
            _ = c.cut(at: due)
            t = due + 0.03
        }
    }

    @Test func aToolWritingAFileEveryFewTenthsMakesTwoBatches() {
        // An ansible run: 20 templates, one every 0.44 to 0.58 s (as measured here).
        let paces = [
            0.47, 0.44, 0.52, 0.58, 0.46, 0.49, 0.44, 0.55, 0.47, 0.51, 0.45, 0.57, 0.48, 0.44, 0.5, 0.46, 0.53, 0.47,
            0.45,
        ]
        let run = paces.reduce(into: [10.0]) { times, pace in times.append(times.last! + pace) }
        let cuts = Self.batches(run)
        #expect(cuts.count == 2, "\(cuts)")
        #expect(cuts.first.map { abs($0.cut - 10.2) < 1e-9 } == true)
        // After the run, a single edit goes out after `delay` again.
        let after = Self.batches(run + [30])
        #expect(after.last.map { abs($0.cut - 30.2) < 1e-9 } == true)
    }

    @Test func oneSlowStepOfAWriterDoesNotCutItsRunInTwo() {
        // The same pace on a loaded machine: one step takes 0.94 s, more than the widened quiet
        // the run started with (0.7 s), less than twice its longest step.
        let paces = [0.5, 0.5, 0.5, 0.55, 0.5, 0.94, 0.5, 0.5, 0.6, 0.5]
        let run = paces.reduce(into: [10.0]) { times, pace in times.append(times.last! + pace) }
        #expect(Self.batches(run).count == 2, "\(Self.batches(run))")
        // A writer's pause of many times its pace still ends the batch.
        #expect(Self.batches(run + [run.last! + 5]).count == 3)
    }

    @Test func noChangeWaitsPastMaxDelayUnderAnySchedule() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var generator = SplitMix(state: seed)
        for _ in 0..<2_000 {
            var events: [Double] = []
            var t = 0.0
            for _ in 0..<Int.random(in: 1...60, using: &generator) {
                t +=
                    [0.01, 0.1, 0.4, 1, 3, 20].randomElement(using: &generator)!
                    * Double.random(in: 0.5...1.5, using: &generator)
                events.append(t)
            }
            let delay = [0, 0.05, 0.2, 1].randomElement(using: &generator)!
            let maxDelay = max(delay, [1, 2, 10].randomElement(using: &generator)!)
            let cuts = Self.batches(events, delay: delay, maxDelay: maxDelay)
            // Every batch is cut within `maxDelay` of its first change, and every change is in one.
            #expect(cuts.allSatisfy { $0.cut - $0.first <= maxDelay + 1e-9 }, "seed \(seed): \(events)")
            #expect(cuts.first?.first == events.first && cuts.count <= events.count)
            // A change with nothing within four `maxDelay` before it is lone: out after `delay`.
            for (i, e) in events.enumerated() where i == 0 || e - events[i - 1] > 4 * maxDelay {
                if i + 1 < events.count && events[i + 1] - e <= delay { continue }
                #expect(
                    cuts.contains { $0.first == e && abs($0.cut - e - delay) < 1e-9 }, "seed \(seed): \(e) in \(events)"
                )
            }
        }
    }
}
