import FoundationEssentials
import RunnerSystem
import Testing

/// A process that is up gives back the code pages it mapped to start, and goes on.
@Suite struct CodePagesTests {
    /// The file-backed part of this process's resident set, in KiB.
    private func residentFileKiB() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("RssFile:") })
        else { return nil }
        return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
    }

    @Test func startupPagesAreGivenBackAndCodeStillRuns() throws {
        let before = try #require(residentFileKiB())
        let released = CodePages.releaseStartup()
        let after = try #require(residentFileKiB())
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
