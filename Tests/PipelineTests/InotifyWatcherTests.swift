import Foundation
import Pipeline
import TestSupport
import Testing

/// The simple watcher against real inotify on real temp dirs.
@Suite struct InotifyWatcherTests {
    /// Reads events until `condition` holds on everything read so far, or a deadline passes.
    func collect(_ watcher: InotifyWatcher, until condition: ([WatchEvent]) -> Bool) async throws -> [WatchEvent] {
        var all: [WatchEvent] = []
        _ = try await eventually(timeout: 5) {
            all += try watcher.read()
            return condition(all)
        }
        return all
    }

    @Test func replacedFileKeepsBeingWatched() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("a.conf", "v1")
        let watcher = try InotifyWatcher(root: dir.path)
        // Replace by rename, as rsync, sed -i and editors do: a new inode each time.
        for i in 0..<5 {
            try dir.write(".a.conf.tmp\(i)", "v\(i)")
            rename(dir.at(".a.conf.tmp\(i)"), dir.at("a.conf"))
        }
        _ = try await collect(watcher) { $0.contains { $0.path == "a.conf" } }
        // The in-place edit after the replacements must still be seen.
        let handle = try FileHandle(forWritingAtPath: dir.at("a.conf")).unwrap()
        handle.write(Data("edited".utf8))
        try handle.close()
        let events = try await collect(watcher) { $0.contains { $0.path == "a.conf" && $0.kind == .written } }
        #expect(events.contains { $0.path == "a.conf" && $0.kind == .written })
    }

    @Test func newDirectoriesAreWatchedAtOnce() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let watcher = try InotifyWatcher(root: dir.path)
        try FileManager.default.createDirectory(atPath: dir.at("a/b/c"), withIntermediateDirectories: true)
        _ = try await collect(watcher) { $0.contains { $0.path == "a" } }
        #expect(watcher.watchCount == 4)
        try dir.write("a/b/c/later.conf", "x")
        let events = try await collect(watcher) { $0.contains { $0.path == "a/b/c/later.conf" } }
        #expect(events.contains { $0.path == "a/b/c/later.conf" })
    }

    @Test func renamedDirectoryReportsItsNewPaths() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("old/f.conf", "x")
        let watcher = try InotifyWatcher(root: dir.path)
        rename(dir.at("old"), dir.at("new"))
        let moved = try await collect(watcher) { $0.contains { $0.path == "new" } }
        #expect(moved.contains { $0.kind == .moved(from: "old") && $0.path == "new" })
        try dir.write("new/f.conf", "edited")
        let events = try await collect(watcher) { $0.contains { $0.path == "new/f.conf" } }
        #expect(!events.contains { $0.path.hasPrefix("old/") })
    }

    @Test func directoryMovedOutIsADeleteAndNoLongerReported() async throws {
        let dir = try TemporaryDirectory()
        let outside = try TemporaryDirectory()
        defer { dir.remove(); outside.remove() }
        try dir.write("d/f", "x")
        let watcher = try InotifyWatcher(root: dir.path)
        rename(dir.at("d"), outside.at("d"))
        let events = try await collect(watcher) { $0.contains { $0.path == "d" } }
        #expect(events.contains { $0.path == "d" && $0.kind == .deleted })
        #expect(watcher.watchCount == 1)
    }

    @Test func ignoredDirectoriesAreNotWatched() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write(".git/objects/x", "x")
        try dir.write("conf/a", "x")
        let watcher = try InotifyWatcher(root: dir.path) { !$0.hasPrefix(".git") }
        #expect(watcher.watchCount == 2)
    }
}

extension Optional {
    func unwrap() throws -> Wrapped {
        guard let self else { throw CocoaError(.fileNoSuchFile) }
        return self
    }
}
