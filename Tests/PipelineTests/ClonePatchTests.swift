import Foundation
import PropertyBased
import RunnerSystem
import TestSupport
import Testing

@testable import Pipeline

/// The receiver builds a large file over a clone of its old one (a reflink where the file
/// system has them, else a copy made by the kernel) and writes only what changed; that
/// path and the plain one (every byte written in order) make the same file, for rolling
/// deltas and for the block deltas of files edited in place.
@Suite struct ClonePatchTests {
    static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// Patches the delta at `delta` against `basis` into `output`, over a clone of the basis;
    /// false when no clone could be made (then it is patched front to back).
    static func patchOverClone(basis: String, delta: String, output: String) throws -> Bool {
        let input = try FileDescriptor(opening: basis, O_RDONLY)
        let deltaFile = try FileDescriptor(opening: delta, O_RDONLY)
        let out = try FileDescriptor(opening: output, O_RDWR | O_CREAT | O_TRUNC, mode: 0o600)
        var st = stat()
        fstat(input.raw, &st)
        let cloned = FileSystem.clone(input.raw, into: out.raw, size: Int64(st.st_size), orCopy: true)
        _ = try DeltaPatcher().apply(
            basis: input.raw, basisName: basis, reading: ByteReader(fd: deltaFile.raw, name: delta),
            into: cloned ? .overBasis(out.raw, name: output) : .stream(ByteWriter(fd: out.raw, name: output)))
        return cloned
    }

    /// The in-place delta of `new` against `basis` (same size), written to `output`.
    static func blockDelta(basis: String, new: String, output: String) throws -> Bool {
        let a = try FileDescriptor(opening: basis, O_RDONLY), b = try FileDescriptor(opening: new, O_RDONLY)
        let seed = StrongHash.randomSeed()
        guard let theirs = BlockSums.of(a.raw, seed: seed), let ours = BlockSums.of(b.raw, seed: seed),
            let differing = ours.differing(from: theirs)
        else { return false }
        let out = try FileDescriptor(opening: output, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        var st = stat()
        fstat(a.raw, &st)
        _ = try DeltaEncoder.inPlace(
            reading: ByteReader(fd: b.raw, name: new), basisSize: Int64(st.st_size), blockLength: ours.blockLength,
            differing: differing, writer: ByteWriter(fd: out.raw, name: output))
        return true
    }

    @Test func aCloneAndPatchBuildsTheSameFileAsThePlainPath() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        await propertyCheck(
            count: 40, input: Gen.int(in: 0...400_000), Gen.int(in: 0...999_999).array(of: 0...6),
            Gen.int(in: 0...Int(Int32.max))
        ) { size, codes, seed in
            let basis = deterministicBytes(size, seed: UInt64(seed))
            var new = basis
            for code in codes { new = DeltaRoundTripTests.edit(new, code: code, seed: UInt64(seed)) }
            try Data(basis).write(to: URL(fileURLWithPath: dir.at("basis")))
            try Data(new).write(to: URL(fileURLWithPath: dir.at("new")))
            try DeltaFiles.signature(basis: dir.at("basis"), output: dir.at("sig"))
            _ = try DeltaFiles.delta(signature: dir.at("sig"), new: dir.at("new"), output: dir.at("delta"))
            _ = try DeltaFiles.patch(basis: dir.at("basis"), delta: dir.at("delta"), output: dir.at("plain"))
            let cloned = try Self.patchOverClone(
                basis: dir.at("basis"), delta: dir.at("delta"), output: dir.at("clone"))
            #expect(cloned, "neither a reflink nor copy_file_range worked")
            #expect(try Self.bytes(dir.at("plain")) == new)
            #expect(try Self.bytes(dir.at("clone")) == new)
        }
    }

    @Test func aBlockDeltaOfAnInPlaceEditRebuildsTheFileBothWays() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        await propertyCheck(
            count: 40, input: Gen.int(in: 1...300_000), Gen.int(in: 0...Int(Int32.max)).array(of: 0...8),
            Gen.int(in: 0...Int(Int32.max))
        ) { size, offsets, seed in
            let basis = deterministicBytes(size, seed: UInt64(seed))
            var new = basis
            for o in offsets { new[o % size] &+= 1 }
            try Data(basis).write(to: URL(fileURLWithPath: dir.at("basis")))
            try Data(new).write(to: URL(fileURLWithPath: dir.at("new")))
            #expect(try Self.blockDelta(basis: dir.at("basis"), new: dir.at("new"), output: dir.at("delta")))
            _ = try DeltaFiles.patch(basis: dir.at("basis"), delta: dir.at("delta"), output: dir.at("plain"))
            _ = try Self.patchOverClone(basis: dir.at("basis"), delta: dir.at("delta"), output: dir.at("clone"))
            #expect(try Self.bytes(dir.at("plain")) == new)
            #expect(try Self.bytes(dir.at("clone")) == new)
            // Only the edited blocks travel.
            let literal = try Self.bytes(dir.at("delta")).count
            #expect(literal <= Set(offsets.map { ($0 % size) >> 15 }).count * ((32 << 10) + 8) + 64)
        }
    }
}
