import RunnerSystem
import TestSupport
import Testing

/// A process that is up gives back the code pages it mapped to start, and goes on.
@Suite struct CodePagesTests {
    @Test func startupPagesAreGivenBackAndCodeStillRuns() throws {
        let before = try #require(ProcessStatus.kib("RssFile"))
        let released = CodePages.releaseStartup()
        let after = try #require(ProcessStatus.kib("RssFile"))
        // The test binary and the Swift runtime's libraries are mapped and were touched.
        #expect(released > 1 << 20)
        // Tests running beside this one map some of it again at once, but far from all.
        #expect(after < before - 1024, "RssFile \(before) KiB before, \(after) KiB after")
        // Code runs on from pages mapped again on first use.
        let sorted = (0..<10_000).map { ($0 &* 7919) % 10_007 }.sorted()
        #expect(sorted.first == 0 && sorted.count == 10_000)
        #expect(String(decoding: Array("still here".utf8), as: UTF8.self) == "still here")
    }
}
