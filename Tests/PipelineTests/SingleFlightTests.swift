import RunnerSystem
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Values made once for every thread that asks at the same time, within a bound.
@Suite struct SingleFlightTests {
    /// Starts `count` threads that each run `body` once they are all there, and waits for them.
    private func together(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let arrived = Atomic<Int>(0)
        var threads: [pthread_t] = []
        final class Box: Sendable {
            let run: @Sendable () -> Void
            init(_ run: @escaping @Sendable () -> Void) { self.run = run }
        }
        for i in 0..<count {
            let box = Box {
                arrived.add(1, ordering: .relaxed)
                while arrived.load(ordering: .relaxed) < count { sched_yield() }
                body(i)
            }
            var thread = pthread_t()
            let rc = pthread_create(
                &thread, nil,
                { raw in
                    Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().run()
                    return nil
                }, Unmanaged.passRetained(box).toOpaque())
            #expect(rc == 0)
            threads.append(thread)
        }
        for thread in threads { pthread_join(thread, nil) }
    }

    @Test func threadsAskingForOneKeyAtOnceGetOneValueMadeOnce() {
        let shared = SingleFlight<String, Int>(limit: 100) { _ in 1 }
        let makes = Atomic<Int>(0)
        let seen = Mutex<Set<Int>>([])
        together(16) { i in
            let value = shared.value("k") { () -> Int in
                makes.add(1, ordering: .relaxed)
                usleep(20_000)  // long enough that every other thread asks meanwhile
                return 1000 + i
            }
            seen.withLock { _ = $0.insert(value) }
        }
        #expect(makes.load(ordering: .relaxed) == 1)
        #expect(seen.withLock { $0.count } == 1)
    }

    @Test func aMakerThatFailsLeavesTheKeyToTheNextAsker() {
        struct Failed: Error {}
        let shared = SingleFlight<String, Int>(limit: 100) { _ in 1 }
        #expect(throws: Failed.self) { try shared.value("k") { () throws(Failed) -> Int in throw Failed() } }
        #expect(shared.value("k") { 7 } == 7)
        #expect(shared.value("k") { 8 } == 7)
    }

    @Test func theOldestValuesAreForgottenPastTheLimit() {
        let shared = SingleFlight<Int, Int>(limit: 10) { $0 }
        for key in 0..<5 { _ = shared.value(key) { 4 } }
        #expect(shared.keptCost == 8)
        // Kept: the two newest; the oldest is made again when asked.
        #expect(shared.value(4) { 99 } == 4)
        #expect(shared.value(0) { 3 } == 3)
        // A value costlier than the whole limit is returned, not kept.
        #expect(shared.value(100) { 11 } == 11)
        #expect(shared.value(100) { 1 } == 1)
    }
}
