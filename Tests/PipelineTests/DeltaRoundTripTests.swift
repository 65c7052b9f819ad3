import Foundation
import Pipeline
import PropertyBased
import TestSupport
import Testing

/// patch(basis, delta(signature(basis), new)) == new, for random files and edits.
@Suite struct DeltaRoundTripTests {
    /// Applies one edit, chosen by `code`: insert, delete, overwrite, move a range,
    /// truncate, append, or duplicate a range.
    static func edit(_ data: [UInt8], code: Int, seed: UInt64) -> [UInt8] {
        var d = data
        let pos = (code / 7) % (d.count + 1)
        let n = (code / 7 / 5003) % 300 + 1
        let end = min(d.count, pos + n)
        switch code % 7 {
        case 0: d.insert(contentsOf: deterministicBytes(n, seed: seed &+ UInt64(code)), at: pos)
        case 1: d.removeSubrange(pos..<end)
        case 2: d.replaceSubrange(pos..<end, with: deterministicBytes(end - pos, seed: seed &+ UInt64(code)))
        case 3:
            let range = Array(d[pos..<end])
            d.removeSubrange(pos..<end)
            d.insert(contentsOf: range, at: (code / 3) % (d.count + 1))
        case 4: d.removeSubrange(pos...)
        case 5: d += deterministicBytes(n, seed: seed &+ UInt64(code))
        default: d.insert(contentsOf: Array(d[pos..<end]), at: (code / 11) % (d.count + 1))
        }
        return d
    }

    /// Runs signature, delta and patch through files; returns the rebuilt bytes and the stats.
    static func roundTrip(basis: [UInt8], new: [UInt8], blockLength: Int?, in dir: TemporaryDirectory) throws -> (
        [UInt8], DeltaStats
    ) {
        try Data(basis).write(to: URL(fileURLWithPath: dir.at("basis")))
        try Data(new).write(to: URL(fileURLWithPath: dir.at("new")))
        try DeltaFiles.signature(basis: dir.at("basis"), output: dir.at("sig"), blockLength: blockLength)
        let stats = try DeltaFiles.delta(signature: dir.at("sig"), new: dir.at("new"), output: dir.at("delta"))
        try DeltaFiles.patch(basis: dir.at("basis"), delta: dir.at("delta"), output: dir.at("out"))
        return (Array(try Data(contentsOf: URL(fileURLWithPath: dir.at("out")))), stats)
    }

    @Test func randomFilesAndEditScriptsRoundTrip() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        await propertyCheck(
            count: 300, input: Gen.int(in: 0...6000), Gen.int(in: 0...999_999).array(of: 0...6),
            Gen.element(of: [1, 2, 7, 64, 700, 4096]), Gen.int(in: 0...Int(Int32.max))
        ) { size, codes, blockLength, seed in
            let basis = deterministicBytes(size, seed: UInt64(seed))
            let new = codes.reduce(basis) { Self.edit($0, code: $1, seed: UInt64(seed)) }
            failOnThrow {
                let (out, stats) = try Self.roundTrip(basis: basis, new: new, blockLength: blockLength, in: dir)
                #expect(out == new)
                #expect(stats.newSize == Int64(new.count))
                #expect(stats.copiedBytes + stats.literalBytes == Int64(new.count))
            }
        }
    }

    @Test func identicalFilesCarryNoLiteralData() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        await propertyCheck(
            count: 100, input: Gen.int(in: 0...20000), Gen.element(of: [1, 7, 64, 700]), Gen.int(in: 0...Int(Int32.max))
        ) { size, blockLength, seed in
            let data = deterministicBytes(size, seed: UInt64(seed))
            failOnThrow {
                let (out, stats) = try Self.roundTrip(basis: data, new: data, blockLength: blockLength, in: dir)
                #expect(out == data)
                #expect(stats.literalBytes == 0)
            }
        }
    }

    @Test(arguments: [0, 1, 699, 700, 701, 1399, 1400, 1401, 2100])
    func sizesAroundTheBlockLength(_ size: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let basis = deterministicBytes(size, seed: 7)
        for new in [basis, basis + [1], Array(basis.dropLast()), [0] + basis, deterministicBytes(size, seed: 8), []] {
            let (out, _) = try Self.roundTrip(basis: basis, new: new, blockLength: nil, in: dir)
            #expect(out == new, "basis \(size) bytes, new \(new.count) bytes")
        }
    }

    @Test func largeFileStreamsWithBoundedMemoryAndCompressesLiterals() throws {
        // 24 MiB, larger than the encoder's window: matches across refills, and a
        // compressible insert stored smaller than it is.
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let basis = deterministicBytes(24 << 20, seed: 1)
        var new = basis
        new.insert(contentsOf: [UInt8](repeating: 0x41, count: 3 << 20), at: 10 << 20)
        new[20 << 20] ^= 0xFF
        let (out, stats) = try Self.roundTrip(basis: basis, new: new, blockLength: nil, in: dir)
        #expect(out == new)
        #expect(stats.literalBytes < (3 << 20) + 3 * Int64(Signature.blockLength(forFileSize: Int64(basis.count))))
        #expect(stats.storedLiteralBytes < 64 * 1024, "3 MiB of one byte compresses")
    }

    @Test func wholeFileWithoutABasisIsCompressedAndRebuiltFromNothing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let text = Array(String(repeating: "pm.max_children = 5\nenv[APP_MODE] = functional\n", count: 200).utf8)
        try Data(text).write(to: URL(fileURLWithPath: dir.at("new")))
        FileManager.default.createFile(atPath: dir.at("empty"), contents: nil)
        let stats = try DeltaFiles.delta(signature: nil, new: dir.at("new"), output: dir.at("delta"))
        #expect(stats.literalBytes == Int64(text.count))
        #expect(stats.deltaBytes < Int64(text.count) / 10)
        try DeltaFiles.patch(basis: dir.at("empty"), delta: dir.at("delta"), output: dir.at("out"))
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: dir.at("out")))) == text)
    }
}
