import Foundation
import Pipeline
import TestSupport
import Testing

/// Corrupt or hostile signatures and deltas: a clear error, never a crash, no output.
@Suite struct DeltaHostileInputTests {
    struct Setup {
        let dir: TemporaryDirectory
        let delta: [UInt8]
        let signature: [UInt8]
        var out: String { dir.at("out") }

        init() throws {
            dir = try TemporaryDirectory()
            let basis = deterministicBytes(5000, seed: 3)
            var new = basis
            new.replaceSubrange(1000..<1010, with: [UInt8](repeating: 9, count: 40))
            try Data(basis).write(to: URL(fileURLWithPath: dir.at("basis")))
            try Data(new).write(to: URL(fileURLWithPath: dir.at("new")))
            try DeltaFiles.signature(basis: dir.at("basis"), output: dir.at("sig"), blockLength: 64)
            try DeltaFiles.delta(signature: dir.at("sig"), new: dir.at("new"), output: dir.at("delta"))
            delta = Array(try Data(contentsOf: URL(fileURLWithPath: dir.at("delta"))))
            signature = Array(try Data(contentsOf: URL(fileURLWithPath: dir.at("sig"))))
        }

        /// Patches with these delta bytes; must fail and leave no output behind.
        func patchFails(_ bytes: [UInt8], basis: String? = nil, _ comment: Comment? = nil) throws -> DeltaError? {
            try Data(bytes).write(to: URL(fileURLWithPath: dir.at("bad")))
            do {
                try DeltaFiles.patch(basis: basis ?? dir.at("basis"), delta: dir.at("bad"), output: out)
            } catch {
                #expect(!FileManager.default.fileExists(atPath: out), comment)
                let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter {
                    $0.contains("runner-tmp")
                }
                #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")
                return error
            }
            Issue.record("patch accepted a bad delta \(comment.map { "(\($0))" } ?? "")")
            try? FileManager.default.removeItem(atPath: out)
            return nil
        }

        /// The delta's header (magic, version 2, no flags, block length 64 and basis size
        /// 5000 as varints, the 8-byte seed), to put hostile operations after.
        func header() -> [UInt8] {
            let spelled =
                Array("RNDL".utf8) + [2, 0] + DeltaHostileInputTests.varint(64) + DeltaHostileInputTests.varint(5000)
            #expect(Array(delta.prefix(spelled.count)) == spelled)
            return Array(delta.prefix(spelled.count + 8))
        }
    }

    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        repeat { var b = UInt8(v & 0x7f); v >>= 7; if v != 0 { b |= 0x80 }; out.append(b) } while v != 0
        return out
    }

    @Test func everyTruncationIsAnError() throws {
        let s = try Setup()
        defer { s.dir.remove() }
        for length in 0..<s.delta.count {
            _ = try s.patchFails(Array(s.delta.prefix(length)), "truncated to \(length)")
        }
    }

    @Test func everyFlippedByteIsAnError() throws {
        let s = try Setup()
        defer { s.dir.remove() }
        for i in 0..<s.delta.count {
            var bad = s.delta
            bad[i] ^= 0xFF
            _ = try s.patchFails(bad, "byte \(i) flipped")
        }
    }

    @Test func hugeLengthsAreRefusedBeforeAllocation() throws {
        let s = try Setup()
        defer { s.dir.remove() }
        let cases: [([UInt8], String)] = [
            (s.header() + [2] + Self.varint(0xFFFF_FFFF), "literal length"),
            (s.header() + [2] + Self.varint(UInt64(DeltaLimits.maxLiteral + 1)), "literal length"),
            (s.header() + [3] + Self.varint(100) + Self.varint(0xFFFF_FFFF_FFFF), "compressed literal"),
            (s.header() + [1] + Self.varint(1 << 40) + Self.varint(1), "outside the basis"),
            (s.header() + [1] + Array(repeating: 0xFF, count: 11), "varint"),
            (s.header() + [0x7F], "unknown operation"),
        ]
        for (bytes, expected) in cases {
            let error = try s.patchFails(bytes)
            #expect(error.map { "\($0)".contains(expected) } == true, "\(String(describing: error))")
        }
    }

    @Test func outOfRangeBlockIndexIsRefused() throws {
        let s = try Setup()
        defer { s.dir.remove() }
        let blocks = (5000 + 63) / 64
        for (start, count) in [(blocks, 1), (blocks - 1, 2), (0, blocks + 1), (0, 0)] {
            let error = try s.patchFails(s.header() + [1] + Self.varint(UInt64(start)) + Self.varint(UInt64(count)))
            #expect(error.map { "\($0)".contains("outside the basis") } == true, "\(String(describing: error))")
        }
    }

    @Test func wrongBasisIsRefused() throws {
        let s = try Setup()
        defer { s.dir.remove() }
        try Data(deterministicBytes(4000, seed: 4)).write(to: URL(fileURLWithPath: s.dir.at("small")))
        let size = try s.patchFails(s.delta, basis: s.dir.at("small"))
        #expect(size.map { "\($0)".contains("wrong basis") } == true)
        try Data(deterministicBytes(5000, seed: 5)).write(to: URL(fileURLWithPath: s.dir.at("same-size")))
        let content = try s.patchFails(s.delta, basis: s.dir.at("same-size"))
        #expect(content.map { "\($0)".contains("fails the delta's whole-file check") } == true)
    }

    @Test func hostileSignaturesAreRefused() throws {
        let s = try Setup()
        defer { s.dir.remove() }
        func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        let head = Array("RNSG".utf8)
        let seed = le64(42)
        let cases: [([UInt8], String)] = [
            (Array("XXXX".utf8) + Array(s.signature.dropFirst(4)), "bad magic"),
            (head + [1, 8, 0, 0] + le32(64) + le64(5000) + le32(79) + seed, "version"),
            (head + [2, 0, 0, 0] + le32(64) + le64(5000) + le32(79) + seed, "strong sum length"),
            (head + [2, 4, 0, 0] + le32(64) + le64(5000) + le32(79) + seed, "strong sum length"),
            (head + [2, 17, 0, 0] + le32(64) + le64(5000) + le32(79) + seed, "strong sum length"),
            (head + [2, 8, 0, 0] + le32(0) + le64(5000) + le32(79) + seed, "block length"),
            (head + [2, 8, 0, 0] + le32(1 << 21) + le64(5000) + le32(1) + seed, "block length"),
            (head + [2, 8, 0, 0] + le32(64) + le64(5000) + le32(0xFFFF_FFFF) + seed, "block count"),
            (head + [2, 8, 0, 0] + le32(1) + le64(1 << 39) + le32(0xFFFF_FFFF) + seed, "block count"),
            (head + [2, 8, 0, 0] + le32(64) + le64(UInt64.max) + le32(1) + seed, "file size"),
            (Array(s.signature.dropLast(3)), "truncated"),
            (s.signature + [0], "trailing"),
        ]
        for (bytes, expected) in cases {
            try Data(bytes).write(to: URL(fileURLWithPath: s.dir.at("badsig")))
            do {
                try DeltaFiles.delta(signature: s.dir.at("badsig"), new: s.dir.at("new"), output: s.out)
                Issue.record("accepted a bad signature (\(expected))")
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
            #expect(!FileManager.default.fileExists(atPath: s.out))
        }
    }
}
