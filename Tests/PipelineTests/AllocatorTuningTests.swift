import FoundationEssentials
import RunnerSystem
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What a burst freed goes back to the system once the process is idle.
@Suite struct AllocatorTuningTests {
    private func residentAnonymousKiB() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("RssAnon:") })
        else { return nil }
        return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
    }

    @Test func freedHeapGoesBackToTheSystem() throws {
        // 48 MiB in blocks below the mmap threshold (as a burst's paths and frames are),
        // each touched, then all freed: glibc keeps them in its arena.
        let blocks = (0..<96_000).map { i -> UnsafeMutableRawPointer in
            let size = 256 + (i % 8) * 64
            let block = malloc(size)!
            memset(block, 1, size)
            return block
        }
        let held = try #require(residentAnonymousKiB())
        blocks.forEach { free($0) }
        let freed = try #require(residentAnonymousKiB())
        AllocatorTuning.giveBackFreeMemory()
        let after = try #require(residentAnonymousKiB())
        #expect(freed > after + 16 * 1024, "RssAnon \(held) KiB held, \(freed) freed, \(after) after")
    }
}
