import Foundation
import TestSupport
import Testing

@testable import Pipeline

/// Blocks written to share their sums: caught by the seeded whole-file check, never
/// copied silently; and windows sharing one weak sum cost no wrong answer.
@Suite struct DeltaCollisionTests {
    static func digest(_ bytes: [UInt8], seed: UInt64) -> StrongHash.Digest {
        bytes.withUnsafeBytes { StrongHash.digest($0, seed: seed) }
    }

    static func weak(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { RollingChecksum($0).value } }

    @Test(arguments: [UInt64(0), 0x1234_5678_9ABC])
    func forgedBlocksShareTheirSumsUnderTheSeedTheyWereMadeFor(_ seed: UInt64) {
        let (original, forged) = CollidingBlocks.make(seed: seed, filler: deterministicBytes(512, seed: 9))
        #expect(original != forged)
        #expect(Self.weak(original) == Self.weak(forged))
        #expect(Self.digest(original, seed: seed) == Self.digest(forged, seed: seed))
        #expect(Self.digest(original, seed: seed &+ 1) != Self.digest(forged, seed: seed &+ 1))
    }

    @Test func aKeyedHashEqualsTheSeededOneAtEveryLength() {
        for seed: UInt64 in [0, 1, 0xDEAD_BEEF_0BAD_F00D] {
            let keyed = StrongHash.Keyed(seed: seed)
            for length in [0, 1, 16, 128, 129, 240, 241, 512, 1024, 5000] {
                let bytes = deterministicBytes(length, seed: seed &+ UInt64(length))
                #expect(
                    bytes.withUnsafeBytes { keyed.digest($0) } == Self.digest(bytes, seed: seed),
                    "seed \(seed), \(length) bytes")
            }
        }
    }

    /// A basis holding a block, and a new file with a forged twin of it in its place at a
    /// 1024-byte boundary: the unkeyed whole-file sums of the two files are equal too
    /// (what the version-1 format checked), so only a keyed check tells them apart.
    @Test func aForgedBlockIsCaughtByTheWholeFileCheckNotCopiedSilently() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (original, forged) = CollidingBlocks.make(seed: 0, filler: deterministicBytes(512, seed: 10))
        let head = deterministicBytes(200 * 1024, seed: 11), tail = deterministicBytes(3000, seed: 12)
        let basis = head + original + tail, new = head + forged + tail
        #expect(Self.digest(basis, seed: 0) == Self.digest(new, seed: 0))
        try Data(basis).write(to: URL(fileURLWithPath: dir.at("basis")))
        try Data(new).write(to: URL(fileURLWithPath: dir.at("new")))

        // The signature an attacker who knows the seed aims at.
        let input = open(dir.at("basis"), O_RDONLY)
        defer { close(input) }
        let sig = try Signature.compute(
            reading: ByteReader(fd: input, name: "basis"), fileSize: Int64(basis.count), blockLength: 512, seed: 0)
        try DeltaFiles.withOutput(dir.at("sig")) { (writer) throws(DeltaError) in
            try sig.write(to: writer)
            try writer.flush()
        }
        let stats = try DeltaFiles.delta(signature: dir.at("sig"), new: dir.at("new"), output: dir.at("delta"))
        #expect(stats.literalBytes == 0, "the forged block matched the original: the delta copies it")
        let error = #expect(throws: DeltaError.self) {
            try DeltaFiles.patch(basis: dir.at("basis"), delta: dir.at("delta"), output: dir.at("out"))
        }
        #expect(error?.kind == .basisMismatch)
        #expect(!FileManager.default.fileExists(atPath: dir.at("out")))

        // Under a random seed (every real signature) the forged block is not matched at all.
        try DeltaFiles.signature(basis: dir.at("basis"), output: dir.at("sig"), blockLength: 512)
        let (out, random) = try DeltaRoundTripTests.roundTrip(basis: basis, new: new, blockLength: 512, in: dir)
        #expect(out == new)
        #expect(random.literalBytes > 0)
    }

    /// Blocks that all share one weak sum, built with (+1, -2, +1) steps (which keep both
    /// of rsync's sums), against a new file whose every window has that weak sum.
    @Test func windowsSharingOneWeakSumStillRoundTrip() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let length = 700
        var basis: [UInt8] = []
        for block in 0..<100 {
            var b = [UInt8](repeating: 128, count: length)
            let at = (block * 37) % (length - 2)
            b[at] += 1; b[at + 1] -= 2; b[at + 2] += 1
            basis += b
        }
        let new = [UInt8](repeating: 128, count: 64 * 1024)
        #expect(Self.weak(Array(basis.prefix(length))) == Self.weak(Array(new.prefix(length))))
        let (out, stats) = try DeltaRoundTripTests.roundTrip(basis: basis, new: new, blockLength: length, in: dir)
        #expect(out == new)
        #expect(stats.copiedBytes == 0)
    }
}
