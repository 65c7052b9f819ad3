import RunnerSystem
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What a burst freed goes back to the system once the process is idle.
@Suite struct AllocatorTuningTests {
    @Test func freedHeapGoesBackToTheSystem() throws {
        // 48 MiB in blocks below the mmap threshold (as a burst's paths and frames are),
        // each touched, then all freed: glibc keeps them in its arena.
        let blocks = (0..<96_000).map { i -> UnsafeMutableRawPointer in
            let size = 256 + (i % 8) * 64
            let block = malloc(size)!
            memset(block, 1, size)
            return block
        }
        let held = try #require(ProcessStatus.kib("RssAnon"))
        blocks.forEach { free($0) }
        let freed = try #require(ProcessStatus.kib("RssAnon"))
        AllocatorTuning.giveBackFreeMemory()
        let after = try #require(ProcessStatus.kib("RssAnon"))
        #expect(freed > after + 16 * 1024, "RssAnon \(held) KiB held, \(freed) freed, \(after) after")
    }
}
