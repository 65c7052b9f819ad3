import RunnerSystem
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What a burst freed goes back to the system once the process is idle.
@Suite struct AllocatorTuningTests {
    /// How many of `pages` are resident (`mincore`; one not mapped is not).
    private func resident(_ pages: [UInt]) -> Int {
        var count = 0
        var vector: UInt8 = 0
        for page in pages where mincore(UnsafeMutableRawPointer(bitPattern: page), 4096, &vector) == 0 {
            count += Int(vector & 1)
        }
        return count
    }

    @Test func freedHeapGoesBackToTheSystem() throws {
        // 48 MiB in blocks below the mmap threshold (as a burst's paths and frames are),
        // each touched, then all freed: glibc keeps them in its arena. The pages they
        // covered are looked at, not the process's RSS, which the tests running beside
        // this one move.
        let blocks = (0..<96_000).map { i -> (UnsafeMutableRawPointer, Int) in
            let size = 256 + (i % 8) * 64
            let block = malloc(size)!
            memset(block, 1, size)
            return (block, size)
        }
        var covered = Set<UInt>()
        for (block, size) in blocks {
            let first = UInt(bitPattern: block) & ~4095, last = (UInt(bitPattern: block) + UInt(size) - 1) & ~4095
            for page in stride(from: first, through: last, by: 4096) { covered.insert(page) }
        }
        let pages = Array(covered)
        blocks.forEach { free($0.0) }
        let freed = resident(pages)
        AllocatorTuning.giveBackFreeMemory()
        let after = resident(pages)
        #expect(freed > pages.count * 9 / 10, "\(freed) of \(pages.count) pages resident once freed")
        #expect(after < pages.count / 2, "\(after) of \(pages.count) pages resident after, \(freed) before")
    }
}
