import Pipeline
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

    @Test func overflowAsksForAFullRescan() {
        var c = Coalescer(delay: 0, maxDelay: 0)
        c.addRescan(at: 1)
        #expect(c.cut(at: 1)?.fullRescan == true)
    }
}
