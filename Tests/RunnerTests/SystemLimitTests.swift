import Foundation
import Pipeline
import TestSupport
import Testing

/// Cases that lower a system-wide inotify limit for a moment. `make test` runs this
/// suite on its own, after the others, so no other test's watcher is created while
/// a limit is lowered.
@Suite(.serialized) struct SystemLimitTests {
    /// Sets a sysctl under /proc/sys for the duration of `body`, restoring it after.
    static func withSysctl<T>(_ name: String, _ value: String, _ body: () async throws -> T) async throws -> T? {
        let file = "/proc/sys/" + name.replacingOccurrences(of: ".", with: "/")
        let original = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard (try? value.write(toFile: file, atomically: false, encoding: .utf8)) != nil else { return nil }
        defer { try? original.write(toFile: file, atomically: false, encoding: .utf8) }
        return try await body()
    }

    @Test func overflowLeadsToARescanAndNothingIsLost() async throws {
        // A small queue for the runner's inotify instance: the limit applies when the
        // instance is created, so it is restored as soon as the runner is up.
        let made = try await Self.withSysctl("fs.inotify.max_queued_events", "64") {
            try await WatcherTortureTests.Case(delay: 0.1)
        }
        let c = try #require(made, "needs root to lower fs.inotify.max_queued_events")
        // The runner is stopped while the burst happens, so its queue must overflow.
        c.runner.signal(SIGSTOP)
        try c.run("i=0; while [ $i -lt 500 ]; do echo $i > f$i; i=$((i+1)); done; echo edit >> f7")
        c.runner.signal(SIGCONT)
        #expect(try await c.converges(timeout: 60), "\(c.runner.stderr.suffix(2000))")
        #expect(c.runner.stderr.contains("overflow"), "no overflow was forced")
        #expect(await c.finish() == 0)
    }
}
