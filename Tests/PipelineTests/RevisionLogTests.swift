import Foundation
import Pipeline
import RunnerSystem
import TestSupport
import Testing

/// The revision log on real directories: what a revision holds (checked out through a real
/// `file://` target), what a cut stores, what a diff says, and what collection keeps.
@Suite struct RevisionLogTests {
    struct Fixture {
        let dir: TemporaryDirectory
        var source: String { dir.at("src") }
        let filter: Filter

        init(ignore: [String] = []) throws {
            dir = try TemporaryDirectory()
            try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
            filter = try Filter(rules: ignore.map { IgnoreRule.glob($0) })
        }

        func log(keep: Int = 100) throws -> RevisionLog { try RevisionLog(directory: dir.at("state"), keep: keep) }

        /// A cut, written to disk (as the runner does once the revision's deliveries started).
        @discardableResult
        func cut(_ log: RevisionLog, _ paths: [String]? = nil) throws -> CutResult {
            let result = try log.cut(CutRequest(source: source, paths: paths, filter: filter))
            try log.flush()
            return result
        }

        /// The revision, written into a fresh directory by a `file://` target.
        func checkout(_ log: RevisionLog, _ record: RevisionRecord) throws -> TreeSnapshot {
            let out = dir.at("checkout-\(record.number)-\(UUID().uuidString)")
            let target = try LocalTarget(root: out)
            _ = try target.sync(
                paths: nil, moves: [:], source: log.tree(record)!, filter: filter, delete: true, cancelled: { false })
            return TreeSnapshot(out)
        }

        /// The objects in the store.
        func objects() -> Set<String> {
            var all = Set<String>()
            let root = dir.at("state/objects")
            for prefix in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where prefix.count == 2 {
                for rest in (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + prefix)) ?? [] {
                    all.insert(prefix + rest)
                }
            }
            return all
        }
    }

    @Test func aFileReplacedAfterItWasListedIsNotStoredForIt() throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        let path = try f.dir.write("src/a.conf", "one\n")
        let listed = try #require(FileInfo.lstat(path))
        // Another file of the same size and times put in its place, as a replace by rename
        // between the listing and the read can look: only the inode tells them apart.
        let other = try f.dir.write("src/a.new", "two\n")
        var times = [
            timespec(tv_sec: listed.mtimeSeconds, tv_nsec: listed.mtimeNanoseconds),
            timespec(tv_sec: listed.mtimeSeconds, tv_nsec: listed.mtimeNanoseconds),
        ]
        #expect(utimensat(AT_FDCWD, other, &times, 0) == 0)
        #expect(rename(other, path) == 0)
        let log = try f.log()
        let replaced = try FileDescriptor(opening: path, O_RDONLY)
        #expect(try log.store.put(file: replaced.raw, before: listed, shown: path) == nil)
        let now = try #require(FileInfo.lstat(path))
        let unchanged = try FileDescriptor(opening: path, O_RDONLY)
        let stored = try #require(try log.store.put(file: unchanged.raw, before: now, shown: path))
        #expect(try log.store.read(stored.hash) == Array("two\n".utf8))
    }

    @Test func aRevisionHoldsTheSourceAsItIsSent() throws {
        let f = try Fixture(ignore: ["*.swp", "/drafts/"])
        defer { f.dir.remove() }
        try f.dir.write("src/www.conf", "[www]\n", mode: 0o640)
        try f.dir.write("src/sub/deep/x.conf", "x", mode: 0o600)
        try f.dir.write("src/.www.conf.swp", "swap")
        try f.dir.write("src/drafts/d.conf", "draft")
        symlink("www.conf", f.at("src/link"))
        chmod(f.at("src/sub"), 0o750)
        let log = try f.log()
        let cut = try f.cut(log)
        let record = try #require(cut.record)
        #expect(record.number == 1 && record.parent == nil && record.author.contains("@"))
        #expect(Set(cut.ignored.map(\.path)) == [".www.conf.swp", "drafts"])
        let expected = TreeSnapshot(f.source) { $0.hasSuffix(".swp") || $0.hasPrefix("drafts") }
        #expect(try f.checkout(log, record) == expected)
        #expect(try log.entry("sub/deep/x.conf", in: record)?.mode == 0o600)
        #expect(try log.entry("link", in: record)?.link == "www.conf")
    }

    @Test func anUnchangedSourceCutsNoRevisionAndAnEditOnlyItsPath() throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        for d in 0..<20 { try f.dir.write("src/d\(d)/pool.conf", "[pool\(d)]\n") }
        let log = try f.log()
        let first = try #require(try f.cut(log).record)
        #expect(try f.cut(log).record == nil, "a whole comparison of an unchanged source")
        #expect(try f.cut(log, ["d3/pool.conf"]).record == nil, "a path that did not change")
        let before = f.objects()
        try f.dir.write("src/d3/pool.conf", "[pool3]\nedited\n")
        let cut = try f.cut(log, ["d3/pool.conf"])
        let second = try #require(cut.record)
        #expect(second.number == 2 && second.parent == 1)
        #expect(cut.diff.paths == ["d3/pool.conf"] && second.changed == ["d3/pool.conf"])
        // The file, its directory and the root: nothing else is stored again.
        #expect(f.objects().subtracting(before).count == 3)
        #expect(try log.diff(from: first, to: second) == cut.diff)
        #expect(try f.checkout(log, second) == TreeSnapshot(f.source))
        #expect(try f.checkout(log, first)["d3/pool.conf"] == .file(mode: 0o644, bytes: Data("[pool3]\n".utf8)))
    }

    @Test func moveDeletionAndNewDirectoryEachDiffAsOnePath() throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        try f.dir.write("src/a.conf", "moving content\n")
        try f.dir.write("src/gone/x.conf", "x")
        try f.dir.write("src/gone/y.conf", "y")
        let log = try f.log()
        let first = try #require(try f.cut(log).record)
        try FileManager.default.moveItem(atPath: f.at("src/a.conf"), toPath: f.at("src/b.conf"))
        try FileManager.default.removeItem(atPath: f.at("src/gone"))
        try f.dir.write("src/new/n.conf", "n")
        let cut = try f.cut(log, ["a.conf", "b.conf", "gone", "new"])
        #expect(cut.diff.paths == ["a.conf", "b.conf", "gone", "new"])
        #expect(cut.diff.moves == ["b.conf": "a.conf"])
        #expect(try log.diff(from: first, to: cut.record!) == cut.diff)
        // A whole comparison finds the same.
        #expect(try log.diff(from: nil, to: first).paths == [""])
    }

    @Test func aMissingSourceIsAnErrorNeverAnEmptyRevision() throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        try f.dir.write("src/www.conf", "[www]\n")
        let log = try f.log()
        try f.cut(log)
        try FileManager.default.moveItem(atPath: f.source, toPath: f.at("src.old"))
        #expect(throws: SystemError.self) { try f.cut(log) }
        #expect(log.head?.number == 1)
    }

    @Test func aFlatDirectoryOfManyFilesStoresOneChunkPerEdit() throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        // Past the 4,096 entries of one object: stored as chunks of about a thousand. One
        // file under 6,000 names (hard links: no inode each), so that the test pays for no content.
        try f.dir.write("src/f0.conf", "[pool]\n")
        for i in 1..<6_000 { link(f.at("src/f0.conf"), f.at("src/f\(i).conf")) }
        try f.dir.write("src/sub/x.conf", "[x]\n")
        let log = try f.log(keep: 1)
        let first = try #require(try f.cut(log).record)
        let before = f.objects()
        try f.dir.write("new", "edited\n")
        rename(f.at("new"), f.at("src/f4321.conf"))
        let second = try #require(try f.cut(log, ["f4321.conf"]).record)
        let added = f.objects().subtracting(before)
        // The file, one chunk of the directory and its index.
        #expect(added.count == 3, "\(added.count) objects")
        let bytes = added.reduce(0) { total, name in
            let path = f.at("state/objects/" + name.prefix(2) + "/" + name.dropFirst(2))
            return total + Int(FileInfo.lstat(path)?.size ?? 0)
        }
        #expect(bytes < 100_000, "\(bytes) bytes for one edit among 6,000 files")
        #expect(try log.diff(from: first, to: second).paths == ["f4321.conf"])
        let edited = try #require(try log.entry("f4321.conf", in: second))
        #expect(try log.store.read(edited.hash) == Array("edited\n".utf8))

        // Dropping the first revision removes its chunk and index, and nothing the second reaches.
        let done = try log.collect(pinned: [])
        #expect(done.revisions == 1 && done.objects == 2, "\(done)")
        for path in stride(from: 0, to: 6_000, by: 97).map({ "f\($0).conf" }) + ["f4321.conf", "sub/x.conf"] {
            let entry = try #require(try log.entry(path, in: second), "\(path)")
            #expect(log.store.contains(entry.hash), "\(path)")
        }
    }

    @Test func collectionKeepsTheLastRevisionsAndThosePointedAt() throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        let log = try f.log(keep: 3)
        var records: [RevisionRecord] = []
        for i in 0..<8 {
            try f.dir.write("src/www.conf", "[www]\nversion = \(i)\n")
            records.append(try #require(try f.cut(log, i == 0 ? nil : ["www.conf"]).record))
        }
        let done = try log.collect(pinned: [2])
        #expect(log.numbers() == [2, 6, 7, 8] && done.revisions == 4)
        // What they hold is still there; what only the dropped ones held is gone.
        for n in [2, 6, 7, 8] {
            #expect(
                try f.checkout(log, records[n - 1])["www.conf"]
                    == .file(mode: 0o644, bytes: Data("[www]\nversion = \(n - 1)\n".utf8)))
        }
        #expect(done.objects == 2 * 4, "a file and a root per dropped revision")
    }

    @Test func aRevisionIsReadFromMemoryUntilFlushedAndLostWithoutIt() throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        try f.dir.write("src/www.conf", "one\n")
        let log = try f.log()
        try f.cut(log)
        try f.dir.write("src/www.conf", "two\n")
        // Not flushed: its objects and record are in memory, and a delivery reads them there.
        let second = try #require(
            try log.cut(CutRequest(source: f.source, paths: ["www.conf"], filter: f.filter)).record)
        #expect(f.objects().count == 2, "only the first revision's file and root are on disk")
        #expect(try f.checkout(log, second)["www.conf"] == .file(mode: 0o644, bytes: Data("two\n".utf8)))
        // A process killed before the flush: the log goes on from what was written.
        #expect(try f.log().head?.number == 1)
        try log.flush()
        #expect(try f.log().head == second)
    }

    @Test func aReopenedLogGoesOnFromItsHeadAndPutsALostOneAside() throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        try f.dir.write("src/www.conf", "one\n")
        var log = try f.log()
        try f.cut(log)
        try f.dir.write("src/www.conf", "two\n")
        let second = try #require(try f.cut(log, ["www.conf"]).record)
        log = try f.log()
        #expect(log.head == second)
        // The head's manifest lost (a power cut): the log goes on from the revision before.
        unlink(log.store.path(of: ContentHash(hex: second.root)!))
        log = try f.log()
        #expect(log.head?.number == 1)
        try f.dir.write("src/www.conf", "three\n")
        #expect(try f.cut(log, ["www.conf"]).record?.number == 2)
    }
}

extension TreeSnapshot {
    /// The entry at a path.
    subscript(path: String) -> Entry? { entries[path] }
}

extension RevisionLogTests.Fixture {
    func at(_ relative: String) -> String { dir.at(relative) }
}
