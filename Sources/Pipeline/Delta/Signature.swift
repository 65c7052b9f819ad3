/// The signature of a basis file: its block length, and per block the rolling weak
/// sum and a truncated, seeded XXH3-128 strong sum. What the receiver sends so the
/// sender can find the blocks it already has.
///
/// Format (little-endian): `RNSG`, version 2, strong length (u8), 2 reserved bytes,
/// block length (u32), file size (u64), block count (u32), seed (u64), then per block
/// the weak sum (u32) and the strong sum (strong length bytes).
public struct Signature: Sendable, Equatable {
    static let magic: [UInt8] = Array("RNSG".utf8)
    static let version: UInt8 = 2
    /// Strong sum bytes kept per block. With a random seed, a block that is not the
    /// basis's passes for it with odds of 2^-64 per candidate, and then the whole-file
    /// check catches it: 8 bytes keep signatures small without leaving a hole.
    static let defaultStrongLength = 8

    /// Bytes per block (the last block may be shorter).
    public let blockLength: Int
    /// Bytes of strong sum kept per block.
    public let strongLength: Int
    /// Size of the basis file.
    public let fileSize: Int64
    /// The seed of the strong sums, random for each signature.
    public let seed: UInt64
    /// Weak sums, one per block.
    public private(set) var weak: [UInt32]
    /// Strong sums, `strongLength` bytes per block, concatenated.
    public private(set) var strong: [UInt8]

    /// Number of blocks.
    public var blockCount: Int { weak.count }

    /// The signature of no basis: a delta against it is the whole file, compressed
    /// where that helps (the small-file fast path: no signature round trip).
    public static let none = Signature(
        blockLength: 1, strongLength: defaultStrongLength, fileSize: 0, seed: 0, weak: [], strong: [])

    /// Block length for a file size: about √size, rounded down to a multiple of 128, between
    /// 128 bytes and 128 KiB; never so short that the file would need more than
    /// `DeltaLimits.maxBlockCount` blocks. Short blocks keep a one-line edit of a small
    /// file (the pool configs this tool exists for) to about 128 bytes of literal data;
    /// at 12 bytes per block, the signature stays a third of rdiff's for the same length.
    public static func blockLength(forFileSize size: Int64) -> Int {
        let root = Int(Double(max(0, size)).squareRoot()) & ~127
        return max(min(max(root, 128), 1 << 17), minimumBlockLength(forFileSize: size))
    }

    /// The shortest block length that keeps a file within `DeltaLimits.maxBlockCount` blocks.
    public static func minimumBlockLength(forFileSize size: Int64) -> Int {
        Int(max(1, (size + Int64(DeltaLimits.maxBlockCount) - 1) / Int64(DeltaLimits.maxBlockCount)))
    }

    /// Computes the signature of a file's content, streaming. `fileSize` is what the
    /// caller knows of it (the block count is checked against the limit before any
    /// reading, and again as blocks come in, should the file grow meanwhile).
    static func compute(
        reading reader: ByteReader, fileSize: Int64, blockLength: Int? = nil,
        seed: UInt64 = StrongHash.randomSeed()
    ) throws(DeltaError) -> Signature {
        let length = blockLength ?? Signature.blockLength(forFileSize: fileSize)
        try checkBlockCount(fileSize: fileSize, blockLength: length, path: reader.name)
        var sig = Signature(
            blockLength: length, strongLength: defaultStrongLength, fileSize: 0, seed: seed, weak: [], strong: [])
        let hash = StrongHash.Keyed(seed: seed)
        let expected = Int((fileSize + Int64(length) - 1) / Int64(length))
        sig.weak.reserveCapacity(expected)
        sig.strong.reserveCapacity(expected * sig.strongLength)
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 16)
        defer { block.deallocate() }
        var size: Int64 = 0
        while true {
            let filled = try reader.readUpTo(into: block.baseAddress!, length)
            if filled == 0 { break }
            size += Int64(filled)
            if sig.weak.count == DeltaLimits.maxBlockCount || size > DeltaLimits.maxFileSize {
                try checkBlockCount(fileSize: size, blockLength: length, path: reader.name)
            }
            sig.append(UnsafeRawBufferPointer(rebasing: block[0..<filled]), hash: hash)
            if filled < length { break }
        }
        return Signature(
            blockLength: length, strongLength: sig.strongLength, fileSize: size, seed: seed, weak: sig.weak,
            strong: sig.strong)
    }

    /// Refuses a block length that would give a file more blocks than a signature may hold.
    static func checkBlockCount(fileSize: Int64, blockLength: Int, path: String?) throws(DeltaError) {
        guard fileSize <= DeltaLimits.maxFileSize else {
            throw DeltaError("the file has \(fileSize) bytes, over the limit of \(DeltaLimits.maxFileSize)", path: path)
        }
        let count = (fileSize + Int64(blockLength) - 1) / Int64(blockLength)
        guard count <= Int64(DeltaLimits.maxBlockCount) else {
            throw DeltaError(
                "block length \(blockLength) gives \(count) blocks for \(fileSize) bytes, over the limit of "
                    + "\(DeltaLimits.maxBlockCount) blocks: use a block length of at least "
                    + "\(minimumBlockLength(forFileSize: fileSize))", path: path)
        }
    }

    init(blockLength: Int, strongLength: Int, fileSize: Int64, seed: UInt64, weak: [UInt32], strong: [UInt8]) {
        self.blockLength = blockLength
        self.strongLength = strongLength
        self.fileSize = fileSize
        self.seed = seed
        self.weak = weak
        self.strong = strong
    }

    private mutating func append(_ block: UnsafeRawBufferPointer, hash: StrongHash.Keyed) {
        weak.append(RollingChecksum(block).value)
        let d = hash.digest(block)
        for i in 0..<strongLength {
            strong.append(UInt8(truncatingIfNeeded: i < 8 ? d.low >> UInt64(8 * i) : d.high >> UInt64(8 * (i - 8))))
        }
    }

    /// Writes the signature.
    func write(to writer: ByteWriter) throws(DeltaError) {
        try writer.write(Signature.magic)
        try writer.write([Signature.version, UInt8(strongLength), 0, 0])
        try writer.u32(UInt32(blockLength))
        try writer.u64(UInt64(fileSize))
        try writer.u32(UInt32(weak.count))
        try writer.u64(seed)
        var failure: DeltaError?
        strong.withUnsafeBytes { sums in
            do throws(DeltaError) {
                for i in 0..<weak.count {
                    try writer.u32(weak[i])
                    try writer.write(
                        UnsafeRawBufferPointer(rebasing: sums[(i * strongLength)..<((i + 1) * strongLength)]))
                }
            } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Reads a signature, checking every field against `DeltaLimits` before allocating.
    static func read(from reader: ByteReader) throws(DeltaError) -> Signature {
        var magic: [UInt8] = []
        for _ in 0..<4 { magic.append(try reader.byte()) }
        guard magic == Signature.magic else {
            throw DeltaError("not a runner signature (bad magic)", path: reader.name)
        }
        let version = try reader.byte()
        guard version == Signature.version else {
            throw DeltaError("signature version \(version) is not supported", path: reader.name)
        }
        let strongLength = Int(try reader.byte())
        guard try reader.byte() == 0, try reader.byte() == 0 else {
            throw DeltaError("unknown flags in the signature header", path: reader.name)
        }
        let blockLength = Int(try reader.u32())
        let fileSize = Int64(bitPattern: try reader.u64())
        let count = Int(try reader.u32())
        let seed = try reader.u64()
        guard DeltaLimits.strongLengthRange.contains(strongLength) else {
            throw DeltaError("strong sum length \(strongLength) is out of range", path: reader.name)
        }
        guard (1...DeltaLimits.maxBlockLength).contains(blockLength) else {
            throw DeltaError("block length \(blockLength) is out of range", path: reader.name)
        }
        guard (0...DeltaLimits.maxFileSize).contains(fileSize) else {
            throw DeltaError("file size \(fileSize) is out of range", path: reader.name)
        }
        let expectedCount = (fileSize + Int64(blockLength) - 1) / Int64(blockLength)
        guard count <= DeltaLimits.maxBlockCount, Int64(count) == expectedCount else {
            throw DeltaError(
                "block count \(count) does not fit file size \(fileSize) and block length \(blockLength)",
                path: reader.name)
        }
        // Grown as the sums arrive: a header that claims millions of blocks and then ends
        // costs what was sent, not what was claimed.
        var weak: [UInt32] = [], strong: [UInt8] = []
        weak.reserveCapacity(min(count, 1 << 16))
        strong.reserveCapacity(min(count, 1 << 16) * strongLength)
        var sum = [UInt8](repeating: 0, count: strongLength)
        var failure: DeltaError?
        sum.withUnsafeMutableBytes { buffer in
            do throws(DeltaError) {
                for _ in 0..<count {
                    weak.append(try reader.u32())
                    try reader.read(into: buffer.baseAddress!, strongLength)
                    strong += buffer
                }
            } catch { failure = error }
        }
        if let failure { throw failure }
        guard try reader.atEnd() else { throw DeltaError("trailing bytes after the signature", path: reader.name) }
        return Signature(
            blockLength: blockLength, strongLength: strongLength, fileSize: fileSize, seed: seed, weak: weak,
            strong: strong)
    }
}
