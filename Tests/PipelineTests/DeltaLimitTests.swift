import Foundation
import PropertyBased
import TestSupport
import Testing

@testable import Pipeline

/// Every delta the encoder writes is one the patcher accepts: literal runs within the
/// limit at any size and block length, and signatures within the block-count limit.
@Suite struct DeltaLimitTests {
    /// The literal lengths of a version-2 delta, read by a parser spelled out here.
    static func literalLengths(_ d: [UInt8]) throws -> [Int] {
        var i = 0
        func varint() throws -> Int {
            var value = 0, shift = 0
            while true {
                let b = Int(try #require(i < d.count ? d[i] : nil))
                i += 1
                value |= (b & 0x7F) << shift
                if b & 0x80 == 0 { return value }
                shift += 7
            }
        }
        #expect(Array(d.prefix(6)) == Array("RNDL".utf8) + [2, 0])
        i = 6
        _ = try varint()  // block length
        _ = try varint()  // basis size
        i += 8  // seed
        var lengths: [Int] = []
        while true {
            let op = try #require(i < d.count ? d[i] : nil)
            i += 1
            switch op {
            case 0: return lengths
            case 1: _ = (try varint(), try varint())
            case 2:
                lengths.append(try varint())
                i += lengths.last!
            case 3:
                lengths.append(try varint())
                i += try varint()
            default: Issue.record("unknown op \(op)"); return lengths
            }
        }
    }

    /// Signature, delta and patch of `new` against `basis`; checks the round trip and
    /// returns the literal lengths.
    static func literalRuns(basis: [UInt8], new: [UInt8], blockLength: Int?, in dir: TemporaryDirectory) throws -> [Int]
    {
        let (out, _) = try DeltaRoundTripTests.roundTrip(basis: basis, new: new, blockLength: blockLength, in: dir)
        #expect(out == new, "basis \(basis.count), new \(new.count), block \(blockLength ?? 0)")
        return try literalLengths(Array(try Data(contentsOf: URL(fileURLWithPath: dir.at("delta")))))
    }

    @Test func literalRunsStayWithinTheLimitAtEverySizeAndBlockLength() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // A literal run of k MiB ± L that ends the file (the encoder stops rolling L bytes
        // before the end and writes the rest at once), or that ends before the basis's
        // short last block (matched only at the very end).
        await propertyCheck(
            count: 16, input: Gen.int(in: 1...2), Gen.int(in: 1...65536), Gen.int(in: -65536...65536),
            Gen.int(in: 0...Int(Int32.max))
        ) { k, blockLength, offset, seed in
            let basis = deterministicBytes(min(2 * blockLength + blockLength / 2 + 1, 200_000), seed: UInt64(seed))
            let run = deterministicBytes(k << 20 + offset % (blockLength + 1), seed: UInt64(seed) + 1)
            let shortBlock = Array(basis.suffix(basis.count % blockLength))
            for new in [basis + run, run + shortBlock] {
                failOnThrow {
                    let runs = try Self.literalRuns(basis: basis, new: new, blockLength: blockLength, in: dir)
                    #expect(
                        runs.allSatisfy { $0 <= DeltaLimits.maxLiteral },
                        "literal runs \(runs.filter { $0 > DeltaLimits.maxLiteral })")
                }
            }
        }
    }

    @Test(arguments: [1, 699])
    func aNewFileJustOverTheLiteralLimitRoundTrips(_ over: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let new = deterministicBytes(1 << 20 + over, seed: UInt64(over))
        let basis = deterministicBytes(1000, seed: 99)
        // No basis; a basis whose block ends the run; and one whose short last block ends the file.
        for (basis, new) in [
            ([], new), (basis, Array(basis.prefix(700)) + new), (basis, new + Array(basis.suffix(300))),
        ] {
            let runs = try Self.literalRuns(basis: basis, new: new, blockLength: 700, in: dir)
            #expect(runs.allSatisfy { $0 <= DeltaLimits.maxLiteral })
        }
    }

    @Test func blockCountIsCheckedWhereTheSignatureIsMade() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let limit = DeltaLimits.maxBlockCount
        // Sparse files: the size is what counts, and the over-limit one is refused unread.
        #expect(
            FileManager.default.createFile(atPath: dir.at("over"), contents: nil)
                && truncate(dir.at("over"), off_t(limit + 1)) == 0)
        let error = #expect(throws: DeltaError.self) {
            try DeltaFiles.signature(basis: dir.at("over"), output: dir.at("sig"), blockLength: 1)
        }
        #expect(
            error?.description.contains("block length 1 gives \(limit + 1) blocks") == true,
            "\(String(describing: error))")
        #expect(error?.description.contains("at least 2") == true)
        #expect(!FileManager.default.fileExists(atPath: dir.at("sig")))

        // Exactly at the limit: made, and read back by `delta`.
        #expect(
            FileManager.default.createFile(atPath: dir.at("at"), contents: nil)
                && truncate(dir.at("at"), off_t(limit)) == 0)
        try DeltaFiles.signature(basis: dir.at("at"), output: dir.at("sig"), blockLength: 1)
        try dir.write("new", "small")
        try DeltaFiles.delta(signature: dir.at("sig"), new: dir.at("new"), output: dir.at("delta"))
        try DeltaFiles.patch(basis: dir.at("at"), delta: dir.at("delta"), output: dir.at("out"))
        #expect(try String(contentsOfFile: dir.at("out"), encoding: .utf8) == "small")
    }

    @Test func defaultBlockLengthsFitEveryFileSize() {
        let sizes: [Int64] = [0, 1, 5000, 26_000, 1 << 30, 3 << 30, 1 << 39, (1 << 39) + 1, DeltaLimits.maxFileSize]
        for size in sizes {
            let length = Int64(Signature.blockLength(forFileSize: size))
            let blocks = (size + length - 1) / length
            #expect((1...Int64(DeltaLimits.maxBlockLength)).contains(length))
            #expect(blocks <= Int64(DeltaLimits.maxBlockCount), "\(size) bytes")
        }
    }
}
