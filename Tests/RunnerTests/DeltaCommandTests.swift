import Foundation
import TestSupport
import Testing

/// `runner delta` writes its outputs as a careful `cp` would: through symlinks, in place
/// for devices and FIFOs, with the umask for new files and the old mode for replaced ones.
@Suite struct DeltaCommandTests {
    struct Setup {
        let dir = try! TemporaryDirectory()
        var runner: String { "\"\(RunnerProcess.binary)\" delta" }
        let new = Array("pm.max_children = 5\nenv[APP_MODE] = functional\n".utf8)

        /// Writes `new` and its delta against nothing (`d`), and a 100 KB `old` file.
        init() throws {
            try Data(new).write(to: URL(fileURLWithPath: dir.at("new")))
            try Data(deterministicBytes(100_000, seed: 1)).write(to: URL(fileURLWithPath: dir.at("old")))
            try sh("\(runner) signature /dev/null s && \(runner) delta s new d", in: dir.path)
        }

        func patch(to output: String, umask: String = "022") throws -> (status: Int32, output: String) {
            try sh("umask \(umask); \(runner) patch /dev/null d \(output)", in: dir.path)
        }

        func bytes(_ relative: String) -> [UInt8]? {
            FileManager.default.contents(atPath: dir.at(relative)).map(Array.init)
        }

        func mode(_ relative: String) -> Int? {
            (try? FileManager.default.attributesOfItem(atPath: dir.at(relative))[.posixPermissions]) as? Int
        }
    }

    @Test func aSymlinkedOutputReplacesItsTargetWhole() throws {
        let s = try Setup()
        defer { s.dir.remove() }
        #expect(symlink("old", s.dir.at("link")) == 0)
        #expect(try s.patch(to: "link").status == 0)
        #expect(s.bytes("old") == s.new, "the target holds exactly the new bytes, no old tail")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: s.dir.at("link")) == "old")
    }

    @Test func aDanglingSymlinkCreatesTheFileItNames() throws {
        let s = try Setup()
        defer { s.dir.remove() }
        try FileManager.default.createDirectory(atPath: s.dir.at("sub"), withIntermediateDirectories: true)
        #expect(symlink("sub/missing", s.dir.at("dangling")) == 0)
        #expect(try s.patch(to: "dangling").status == 0)
        #expect(s.bytes("sub/missing") == s.new)
        #expect(s.mode("sub/missing") == 0o644)
    }

    @Test func aFIFOIsWrittenInPlace() throws {
        let s = try Setup()
        defer { s.dir.remove() }
        #expect(mkfifo(s.dir.at("fifo"), 0o644) == 0)
        let r = try sh("cat fifo > drained & \(s.runner) patch /dev/null d fifo; wait", in: s.dir.path)
        #expect(r.status == 0, "\(r.output)")
        #expect(s.bytes("drained") == s.new)
        var st = stat()
        #expect(lstat(s.dir.at("fifo"), &st) == 0 && st.st_mode & S_IFMT == S_IFIFO)
    }

    @Test func newOutputsFollowTheUmaskAndReplacedOnesKeepTheirMode() throws {
        let s = try Setup()
        defer { s.dir.remove() }
        #expect(try s.patch(to: "private", umask: "077").status == 0)
        #expect(s.mode("private") == 0o600)
        #expect(try s.patch(to: "shared", umask: "022").status == 0)
        #expect(s.mode("shared") == 0o644)
        for mode in [0o600, 0o751] {
            #expect(chmod(s.dir.at("old"), mode_t(mode)) == 0)
            #expect(try s.patch(to: "old", umask: "000").status == 0)
            #expect(s.mode("old") == mode)
            #expect(s.bytes("old") == s.new)
        }
    }

    @Test func aSignatureFromAPipeHasTheShapeOfTheFilesOwn() throws {
        let s = try Setup()
        defer { s.dir.remove() }
        try Data(deterministicBytes(5_000_000, seed: 2)).write(to: URL(fileURLWithPath: s.dir.at("big")))
        try sh("cat big | \(s.runner) signature - piped && \(s.runner) signature big direct", in: s.dir.path)
        let piped = try #require(s.bytes("piped")), direct = try #require(s.bytes("direct"))
        // Version, strong sum length, block length, file size and block count; the seeds differ.
        #expect(piped.count == direct.count)
        #expect(piped[4..<24] == direct[4..<24])
        #expect(piped[24..<32] != direct[24..<32])
        let r = try sh("\(s.runner) delta piped old d2 && \(s.runner) patch big d2 out && cmp out old", in: s.dir.path)
        #expect(r.status == 0, "\(r.output)")
    }
}
