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

    @Test func watchLimitIsExplainedAndTheUnwatchedPartIsScanned() async throws {
        // Room for 3 watches: the test's own on the target, the source root and one
        // directory. The 4 other directories can only be covered by the periodic scan.
        let made = try await Self.withSysctl("fs.inotify.max_user_watches", "3") {
            () async throws -> (WatcherTortureTests.Case, Bool) in
            let c = try await WatcherTortureTests.Case(
                extra: "scan_interval = 0.2,",
                prepare: { dir in
                    for d in ["a", "b", "c", "d", "e"] { try dir.write("src/\(d)/x.conf", d) }
                })
            c.runner.signal(SIGSTOP)  // nothing below may be seen before the changes are made
            defer { c.runner.signal(SIGCONT) }
            try c.run("for d in a b c d e; do echo changed >> $d/x.conf; echo new > $d/new.conf; done; rm e/x.conf")
            return (c, true)
        }
        let (c, _) = try #require(made, "needs root to lower fs.inotify.max_user_watches")
        #expect(try await c.converges(), "\(c.runner.stderr.suffix(2000))")
        #expect(
            c.runner.stderr.contains(
                "inotify watch limit reached (fs.inotify.max_user_watches = 3): this tree needs 6 watches"),
            "\(c.runner.stderr.suffix(2000))")
        #expect(c.runner.stderr.contains("sysctl -w fs.inotify.max_user_watches="))
        #expect(await c.finish() == 0)
    }
}
