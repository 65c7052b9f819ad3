import Foundation
import Pipeline
import TestSupport
import Testing

/// Raw bytes to `runner receive`: every hostile input is refused or rolled back, and
/// afterwards the module tree and a sentinel outside it are byte-identical and no
/// staging is left.
@Suite struct HostilePeerTests {
    static func file(_ path: String, delta: [UInt8], basis: Bool = false) -> [UInt8] {
        WireBytes.frame(0x32, WireBytes.string(path) + WireBytes.attrs() + [basis ? 1 : 0])
            + WireBytes.frame(0x33, delta) + WireBytes.frame(0x34, [1])
    }
    static func batch(_ ops: [UInt8]) -> [UInt8] {
        WireBytes.frame(0x30, WireBytes.le64(1)) + ops + WireBytes.frame(0x38)
    }

    struct Setup {
        let dir: TemporaryDirectory
        let wholeFile: [UInt8]

        init() throws {
            dir = try TemporaryDirectory()
            try dir.write("module/www.conf", "[www]\n")
            try dir.write("module/sub/a.conf", "a\n")
            try dir.write("outside/sentinel", "must not change\n")
            try dir.write("receiver.lua", "module \"fpm\" { path = \"\(dir.at("module"))\" }\n")
            try dir.write("payload", "evil\n")
            try DeltaFiles.delta(signature: nil, new: dir.at("payload"), output: dir.at("payload.delta"))
            wholeFile = Array(try Data(contentsOf: URL(fileURLWithPath: dir.at("payload.delta"))))
        }

        /// Feeds `bytes` to a receiver; returns its exit status and stderr.
        func feed(_ bytes: [UInt8]) async throws -> (Int32, String) {
            try Data(bytes).write(to: URL(fileURLWithPath: dir.at("input")))
            let r = try await RunnerProcess.run(
                ["receive", dir.at("receiver.lua"), "--module", "fpm"], logDirectory: dir.path,
                stdin: dir.at("input"))
            return (r.status, r.stderr)
        }
    }

    @Test func eachHostileInputChangesNothing() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        let module = TreeSnapshot(s.dir.at("module"))
        let outside = TreeSnapshot(s.dir.at("outside"))
        let h = WireBytes.hello()
        let cases: [(String, [UInt8], String)] = [
            ("0xFFFFFFFF length", WireBytes.le32(0xFFFF_FFFF) + [0x01], "frame length"),
            ("truncated frame", WireBytes.le32(100) + [0x01, 1, 2, 3], "connection"),
            ("bad magic", WireBytes.hello(magic: 0xDEAD_BEEF), "bad magic"),
            ("other module", WireBytes.hello(module: "secret"), "unknown module"),
            ("unknown frame type", h + WireBytes.frame(0x7E), "unknown frame type"),
            ("dot-dot path", h + Self.batch(Self.file("../escape.conf", delta: s.wholeFile)), "'..' component"),
            (
                "deep dot-dot path", h + Self.batch(Self.file("sub/../../escape.conf", delta: s.wholeFile)),
                "'..' component"
            ),
            ("absolute path", h + Self.batch(Self.file("/etc/evil.conf", delta: s.wholeFile)), "absolute"),
            ("NUL in a path", h + Self.batch(Self.file("a\u{0}b", delta: s.wholeFile)), "NUL"),
            ("empty component", h + Self.batch(Self.file("sub//a.conf", delta: s.wholeFile)), "empty component"),
            (
                "over-long name", h + Self.batch(Self.file(String(repeating: "n", count: 300), delta: s.wholeFile)),
                "longer than"
            ),
            (
                "over-long path string", h + WireBytes.frame(0x10, WireBytes.varint(1) + WireBytes.varint(1 << 20)),
                "over the limit"
            ),
            ("delete the root", h + Self.batch(WireBytes.frame(0x36, WireBytes.string(""))), "root cannot be deleted"),
            ("huge scan count", h + WireBytes.frame(0x10, WireBytes.varint(1 << 40)), "over the limit"),
            (
                "corrupt delta",
                h + Self.batch(Self.file("x.conf", delta: Array(s.wholeFile.dropLast(3)) + [0, 0, 0])),
                "fails the delta's whole-file check"
            ),
            (
                "delta copying from no basis",
                h
                    + Self.batch(
                        Self.file(
                            "x.conf",
                            delta: Array("RNDL".utf8) + [2, 0] + WireBytes.varint(700)
                                + WireBytes.varint(0) + WireBytes.le64(0) + [1] + WireBytes.varint(0)
                                + WireBytes.varint(1))),
                "outside the basis"
            ),
            // A delta against www.conf that fails its check earns a REDO for www.conf only, whole.
            (
                "redo of a file not asked for",
                h
                    + Self.batch(
                        Self.file("www.conf", delta: s.wholeFile, basis: true) + WireBytes.frame(0x38)
                            + Self.file("sub/a.conf", delta: s.wholeFile)), "was not asked for again whole"
            ),
            (
                "redo against a basis again",
                h
                    + Self.batch(
                        Self.file("www.conf", delta: s.wholeFile, basis: true) + WireBytes.frame(0x38)
                            + Self.file("www.conf", delta: s.wholeFile, basis: true)), "was not asked for again whole"
            ),
            (
                "data after the delta",
                h
                    + Self.batch(
                        WireBytes.frame(0x32, WireBytes.string("x.conf") + WireBytes.attrs() + [0])
                            + WireBytes.frame(0x33, s.wholeFile + [9]) + WireBytes.frame(0x34, [1])), "trailing"
            ),
            ("frame outside a file", h + Self.batch(WireBytes.frame(0x33, [1, 2, 3])), "unexpected"),
            (
                "read out of the module",
                h + WireBytes.frame(0x42, WireBytes.varint(1) + WireBytes.string("../outside/sentinel")),
                "'..'"
            ),
            (
                "a move from out of the module",
                h
                    + Self.batch(
                        WireBytes.frame(
                            0x3B,
                            WireBytes.string("stolen") + WireBytes.string("../outside/sentinel") + WireBytes.attrs())),
                "'..'"
            ),
            (
                "a move from the module root",
                h
                    + Self.batch(
                        WireBytes.frame(
                            0x3B,
                            WireBytes.string("stolen") + WireBytes.string(".") + WireBytes.attrs())), "'.'"
            ),
        ]
        for (name, bytes, expected) in cases {
            let (status, stderr) = try await s.feed(bytes)
            #expect(status == 1, "\(name): exit \(status)")
            #expect(stderr.contains(expected), "\(name): \(stderr)")
            #expect(TreeSnapshot(s.dir.at("module")) == module, "\(name) changed the module")
            #expect(TreeSnapshot(s.dir.at("outside")) == outside, "\(name) changed the outside")
            #expect(!FileManager.default.fileExists(atPath: s.dir.at(".module.runner-staging")), "\(name) left staging")
        }
    }

    @Test(arguments: [true, false])
    func symlinkThenAFileUnderItIsRolledBack(_ outOfTheModule: Bool) async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        let module = TreeSnapshot(s.dir.at("module"))
        let outside = TreeSnapshot(s.dir.at("outside"))
        // Out of the module, `symlinks = "safe"` refuses the link itself; inside it, the file
        // under it is what refuses the batch at commit.
        let destination = outOfTheModule ? s.dir.at("outside") : "."
        let link = WireBytes.frame(
            0x35,
            WireBytes.string("d") + WireBytes.string(destination) + WireBytes.le64(1_700_000_000) + WireBytes.le32(0)
                + WireBytes.unchangedOwner())
        let (status, stderr) = try await s.feed(
            WireBytes.hello() + Self.batch(link + Self.file("d/sentinel", delta: s.wholeFile)) + WireBytes.frame(0x04))
        #expect(status == 0, "the session itself is fine: \(stderr)")
        #expect(stderr.contains(outOfTheModule ? "leaves module" : "rolled back"), "\(stderr)")
        #expect(TreeSnapshot(s.dir.at("module")) == module)
        #expect(TreeSnapshot(s.dir.at("outside")) == outside)
        #expect(!FileManager.default.fileExists(atPath: s.dir.at(".module.runner-staging")))
    }

    @Test func aReadGivesModuleFilesButNothingThroughASymlink() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        #expect(symlink(s.dir.at("outside/sentinel"), s.dir.at("module/link.conf")) == 0)
        try Data(
            WireBytes.hello()
                + WireBytes.frame(
                    0x42, WireBytes.varint(2) + WireBytes.string("link.conf") + WireBytes.string("sub/a.conf"))
                + WireBytes.frame(0x04)
        ).write(to: URL(fileURLWithPath: s.dir.at("input")))
        let r = try await RunnerProcess.run(
            ["receive", s.dir.at("receiver.lua"), "--module", "fpm"], logDirectory: s.dir.path, stdin: s.dir.at("input")
        )
        #expect(r.status == 0, "\(r.stderr)")
        // content frames: index, state (0 absent, 1 present), the bytes to the frame's end.
        let absent = WireBytes.frame(0x43, WireBytes.varint(0) + [0])
        let present = WireBytes.frame(0x43, WireBytes.varint(1) + [1] + Array("a\n".utf8))
        #expect(r.stdout.contains(String(decoding: absent + present, as: UTF8.self)), "\(Array(r.stdout.utf8))")
        #expect(!r.stdout.contains("must not change"))
    }

    @Test func aWellFormedBatchIsApplied() async throws {
        // The same bytes as the hostile cases, correct this time: the harness can tell success from refusal.
        let s = try Setup()
        defer { s.dir.remove() }
        let (status, stderr) = try await s.feed(
            WireBytes.hello() + Self.batch(Self.file("new.conf", delta: s.wholeFile)) + WireBytes.frame(0x04))
        #expect(status == 0, "\(stderr)")
        #expect((try? String(contentsOfFile: s.dir.at("module/new.conf"), encoding: .utf8)) == "evil\n")
    }
}
