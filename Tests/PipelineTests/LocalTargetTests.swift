import Foundation
import Pipeline
import RunnerSystem
import TestSupport
import Testing

/// Planning against a real source tree and applying to a real target directory.
@Suite struct LocalTargetTests {
    func sync(_ source: String, _ target: String, rules: [String] = [], delete: Bool = true, paths: [String]? = nil)
        throws -> SyncOutcome
    {
        let filter = try Filter(rules: rules.map { IgnoreRule.glob($0) })
        let plan = try SyncPlanner(
            source: SourceDirectory(root: source), target: target, filter: filter, delete: delete
        )
        .plan(paths: paths)
        return try LocalTarget(root: target).apply(plan, from: SourceDirectory(root: source))
    }

    @Test func fullSyncCopiesContentModesLinksAndTimes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/a.conf", "a\n", mode: 0o640)
        try dir.write("src/sub/deep/b.conf", "b\n", mode: 0o755)
        try dir.write("src/.hidden", "h")
        symlink("a.conf", dir.at("src/link"))
        symlink("/etc/passwd", dir.at("src/outside-link"))
        chmod(dir.at("src/sub"), 0o750)
        try sync(dir.at("src"), dir.at("dst"))
        #expect(TreeSnapshot(dir.at("src")) == TreeSnapshot(dir.at("dst")))
        // The link is kept as a link, never followed.
        #expect(
            (try? FileManager.default.destinationOfSymbolicLink(atPath: dir.at("dst/outside-link"))) == "/etc/passwd")
        let s = FileInfo.lstat(dir.at("src/sub/deep/b.conf"))!, d = FileInfo.lstat(dir.at("dst/sub/deep/b.conf"))!
        #expect(s.mtimeSeconds == d.mtimeSeconds && s.mtimeNanoseconds == d.mtimeNanoseconds)
        let sd = FileInfo.lstat(dir.at("src/sub"))!, dd = FileInfo.lstat(dir.at("dst/sub"))!
        #expect(sd.mtimeSeconds == dd.mtimeSeconds && sd.mtimeNanoseconds == dd.mtimeNanoseconds)
    }

    @Test func secondSyncWritesNothing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/a", "1")
        try dir.write("src/d/b", "2")
        // Older than the quick check's racy window (a file written this very second is re-sent).
        var past = [timespec(tv_sec: 1_700_000_000, tv_nsec: 5), timespec(tv_sec: 1_700_000_000, tv_nsec: 5)]
        for f in ["src/a", "src/d/b", "src/d", "src"] { utimensat(AT_FDCWD, dir.at(f), &past, 0) }
        try sync(dir.at("src"), dir.at("dst"))
        let again = try sync(dir.at("src"), dir.at("dst"))
        #expect(again.written == 0 && again.deleted == 0 && again.updated == 0)
    }

    @Test func sameSizeRewriteIsSent() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/a", "old!")
        try sync(dir.at("src"), dir.at("dst"))
        try dir.write("src/a", "new!")
        try sync(dir.at("src"), dir.at("dst"), paths: ["a"])
        #expect(try String(contentsOfFile: dir.at("dst/a"), encoding: .utf8) == "new!")
    }

    @Test func extrasAreDeletedOnlyWithDeleteAndIgnoredOnesAreKept() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/a", "1")
        try dir.write("dst/extra", "x")
        try dir.write("dst/extradir/f", "x")
        try dir.write("dst/local.bak", "kept: ignored paths are not the sync's to delete")
        try sync(dir.at("src"), dir.at("dst"), rules: ["*.bak"], delete: false)
        #expect(FileManager.default.fileExists(atPath: dir.at("dst/extra")))
        try sync(dir.at("src"), dir.at("dst"), rules: ["*.bak"], delete: true)
        #expect(!FileManager.default.fileExists(atPath: dir.at("dst/extra")))
        #expect(!FileManager.default.fileExists(atPath: dir.at("dst/extradir")))
        #expect(FileManager.default.fileExists(atPath: dir.at("dst/local.bak")))
    }

    @Test func ignoredSourcePathsAreNotSent() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/a.conf", "1")
        try dir.write("src/.a.conf.swp", "swap")
        try dir.write("src/drafts/x.conf", "draft")
        try sync(dir.at("src"), dir.at("dst"), rules: [".*.swp", "/drafts/"])
        #expect(TreeSnapshot(dir.at("dst")).entries.keys.sorted() == ["a.conf"])
    }

    @Test func fileAndDirectoryMayTradePlaces() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/x", "file")
        try dir.write("src/y/inner", "dir")
        try sync(dir.at("src"), dir.at("dst"))
        try FileManager.default.removeItem(atPath: dir.at("src/x"))
        try FileManager.default.removeItem(atPath: dir.at("src/y"))
        try dir.write("src/x/inner", "now a dir")
        try dir.write("src/y", "now a file")
        try sync(dir.at("src"), dir.at("dst"), paths: ["x", "y"])
        #expect(TreeSnapshot(dir.at("src")) == TreeSnapshot(dir.at("dst")))
    }

    @Test func batchPathsOnlyTouchThosePaths() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/a", "1")
        try dir.write("src/b", "1")
        try sync(dir.at("src"), dir.at("dst"))
        try dir.write("src/a", "22")
        try dir.write("src/b", "22")
        try sync(dir.at("src"), dir.at("dst"), paths: ["a"])
        #expect(try String(contentsOfFile: dir.at("dst/a"), encoding: .utf8) == "22")
        #expect(try String(contentsOfFile: dir.at("dst/b"), encoding: .utf8) == "1")
    }

    @Test func stagingIsOutsideTheTargetAndGoneAfterwards() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/a", "1")
        let target = try LocalTarget(root: dir.at("dst"))
        #expect(target.stagingRoot == dir.at(".dst.runner-staging"))
        try sync(dir.at("src"), dir.at("dst"))
        #expect(!FileManager.default.fileExists(atPath: target.stagingRoot))
    }

    @Test func cancelledBatchLeavesTargetUntouched() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/a", "1")
        let filter = try Filter(rules: [])
        let plan = try SyncPlanner(
            source: SourceDirectory(root: dir.at("src")), target: dir.at("dst"), filter: filter, delete: true
        ).plan(
            paths: nil)
        let target = try LocalTarget(root: dir.at("dst"))
        #expect(throws: TransferError.self) {
            try target.apply(plan, from: SourceDirectory(root: dir.at("src")), cancelled: { true })
        }
        #expect(TreeSnapshot(dir.at("dst")).entries.isEmpty)
        // Staging keeps an empty batch directory while the target lives, and goes with it.
        let staged = (try? FileManager.default.subpathsOfDirectory(atPath: target.stagingRoot)) ?? []
        #expect(staged.allSatisfy { !$0.contains("/") }, "\(staged)")
        target.disconnect()
        #expect(!FileManager.default.fileExists(atPath: target.stagingRoot))
    }
}

/// The target side trusts nothing it finds: symlinks are replaced, never followed.
@Suite struct TargetSafetyTests {
    @Test func symlinkedDirectoryInTheTargetIsReplacedNotFollowed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/sub/x.conf", "inside")
        try dir.write("outside/sentinel", "untouched")
        try FileManager.default.createDirectory(atPath: dir.at("dst"), withIntermediateDirectories: true)
        symlink(dir.at("outside"), dir.at("dst/sub"))
        let before = TreeSnapshot(dir.at("outside"))
        let plan = try SyncPlanner(
            source: SourceDirectory(root: dir.at("src")), target: dir.at("dst"), filter: try Filter(rules: []),
            delete: true
        ).plan(paths: nil)
        try LocalTarget(root: dir.at("dst")).apply(plan, from: SourceDirectory(root: dir.at("src")))
        #expect(TreeSnapshot(dir.at("outside")) == before)
        #expect(TreeSnapshot(dir.at("src")) == TreeSnapshot(dir.at("dst")))
    }

    @Test(arguments: [
        "", "/etc/passwd", "..", "a/../../b", "a//b", "./a", "a/.", "a\0b", String(repeating: "x", count: 256),
        String(repeating: "a/", count: 2049) + "a",
    ])
    func unsafePathsAreRejected(_ raw: String) {
        #expect(throws: TransferError.self) { try RelativePath(validating: raw) }
    }

    @Test(arguments: [
        "a", "a/b/c.conf", ".hidden", "..double-dot-prefix", "sp ace/ü.conf", String(repeating: "x", count: 255),
    ])
    func ordinaryPathsAreAccepted(_ raw: String) throws {
        #expect(try RelativePath(validating: raw).description == raw)
    }
}

/// Batches whose paths sit under something unexpected on the target.
@Suite struct TargetAncestorTests {
    @Test func batchPathUnderASymlinkOnTheTargetReplacesTheLinkAndLeavesItsDestinationAlone() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/sub/x.conf", "v1")
        try dir.write("outside/x.conf", "v1")  // same size and content: a planner that followed the link would skip
        let t = try #require(FileInfo.lstat(dir.at("src/sub/x.conf")))
        var times = [
            timespec(tv_sec: t.mtimeSeconds, tv_nsec: t.mtimeNanoseconds),
            timespec(tv_sec: t.mtimeSeconds, tv_nsec: t.mtimeNanoseconds),
        ]
        utimensat(AT_FDCWD, dir.at("outside/x.conf"), &times, 0)
        try FileManager.default.createDirectory(atPath: dir.at("dst"), withIntermediateDirectories: true)
        symlink(dir.at("outside"), dir.at("dst/sub"))
        let before = TreeSnapshot(dir.at("outside"))
        let plan = try SyncPlanner(
            source: SourceDirectory(root: dir.at("src")), target: dir.at("dst"), filter: try Filter(rules: []),
            delete: true
        )
        .plan(paths: ["sub/x.conf"])
        try LocalTarget(root: dir.at("dst")).apply(plan, from: SourceDirectory(root: dir.at("src")))
        #expect(TreeSnapshot(dir.at("dst")) == TreeSnapshot(dir.at("src")))
        #expect(TreeSnapshot(dir.at("outside")) == before)
    }

    @Test func batchPathWhoseParentIsMissingOnTheTargetCreatesItWithTheSourceMode() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/a/b/c.conf", "x")
        chmod(dir.at("src/a"), 0o750)
        try FileManager.default.createDirectory(atPath: dir.at("dst"), withIntermediateDirectories: true)
        let plan = try SyncPlanner(
            source: SourceDirectory(root: dir.at("src")), target: dir.at("dst"), filter: try Filter(rules: []),
            delete: true
        )
        .plan(paths: ["a/b/c.conf"])
        try LocalTarget(root: dir.at("dst")).apply(plan, from: SourceDirectory(root: dir.at("src")))
        #expect(TreeSnapshot(dir.at("dst")) == TreeSnapshot(dir.at("src")))
    }

    @Test func targetRootMayBeASymlinkToADirectory() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/a.conf", "x")
        try FileManager.default.createDirectory(atPath: dir.at("real"), withIntermediateDirectories: true)
        symlink(dir.at("real"), dir.at("dst"))
        let plan = try SyncPlanner(
            source: SourceDirectory(root: dir.at("src")), target: dir.at("dst"), filter: try Filter(rules: []),
            delete: true
        ).plan(paths: nil)
        try LocalTarget(root: dir.at("dst")).apply(plan, from: SourceDirectory(root: dir.at("src")))
        #expect(TreeSnapshot(dir.at("real")) == TreeSnapshot(dir.at("src")))
    }
}

/// The quick check must not skip a file rewritten with the same size within one clock tick.
@Suite struct QuickCheckTests {
    @Test func sameSizeRewriteWithTheSameMtimeIsStillSent() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/a.conf", "old!")
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var times = [now, now]
        utimensat(AT_FDCWD, dir.at("src/a.conf"), &times, 0)
        let filter = try Filter(rules: [])
        let first = try SyncPlanner(
            source: SourceDirectory(root: dir.at("src")), target: dir.at("dst"), filter: filter, delete: true
        ).plan(
            paths: nil)
        try LocalTarget(root: dir.at("dst")).apply(first, from: SourceDirectory(root: dir.at("src")))
        // Same size, same mtime to the nanosecond: what a coarse clock gives two quick writes.
        try dir.write("src/a.conf", "new!")
        utimensat(AT_FDCWD, dir.at("src/a.conf"), &times, 0)
        let second = try SyncPlanner(
            source: SourceDirectory(root: dir.at("src")), target: dir.at("dst"), filter: filter, delete: true
        ).plan(
            paths: ["a.conf"])
        try LocalTarget(root: dir.at("dst")).apply(second, from: SourceDirectory(root: dir.at("src")))
        #expect(try String(contentsOfFile: dir.at("dst/a.conf"), encoding: .utf8) == "new!")
    }
}
