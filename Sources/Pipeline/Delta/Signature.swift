/// The signature of a basis file: its block length, and per block the rolling weak
/// sum and a truncated XXH3-128 strong sum. What the receiver sends so the sender
/// can find the blocks it already has.
///
/// Format (little-endian): `RNSG`, version 1, strong length (u8), 2 reserved bytes,
/// block length (u32), file size (u64), block count (u32), then per block the weak
/// sum (u32) and the strong sum (strong length bytes).
public struct Signature: Sendable, Equatable {
    static let magic: [UInt8] = Array("RNSG".utf8)
    static let version: UInt8 = 1

    /// Bytes per block (the last block may be shorter).
    public let blockLength: Int
    /// Bytes of strong sum kept per block.
    public let strongLength: Int
    /// Size of the basis file.
    public let fileSize: Int64
    /// Weak sums, one per block.
    public private(set) var weak: [UInt32]
    /// Strong sums, `strongLength` bytes per block, concatenated.
    public private(set) var strong: [UInt8]

    /// Number of blocks.
    public var blockCount: Int { weak.count }

    /// The signature of no basis: a delta against it is the whole file, compressed
    /// where that helps (the small-file fast path: no signature round trip).
    public static let none = Signature(blockLength: 700, strongLength: 4, fileSize: 0, weak: [], strong: [])

    /// Block length for a file size: about √size, a multiple of 8, between 700 and 128 KiB (as rsync).
    public static func blockLength(forFileSize size: Int64) -> Int {
        guard size > 700 * 700 else { return 700 }
        let root = Int(Double(size).squareRoot()) & ~7
        return min(root, 1 << 17)
    }

    /// Strong sum length for a file: rsync's estimate of the bits needed for a tiny
    /// chance of a false match over the file, at least 4 bytes.
    public static func strongLength(fileSize: Int64, blockLength: Int) -> Int {
        var b = 10
        var l = fileSize
        while l > 1 { l >>= 1; b += 2 }
        var c = blockLength
        while c > 1 && b > 0 { c >>= 1; b -= 1 }
        return min(16, max(4, (b + 1 - 32 + 7) / 8))
    }

    /// Computes the signature of a file descriptor's content, streaming.
    static func compute(reading reader: ByteReader, fileSize: Int64, blockLength: Int? = nil) throws(DeltaError) -> Signature {
        let length = blockLength ?? Signature.blockLength(forFileSize: fileSize)
        let strongLength = Signature.strongLength(fileSize: fileSize, blockLength: length)
        var sig = Signature(blockLength: length, strongLength: strongLength, fileSize: 0, weak: [], strong: [])
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 16)
        defer { block.deallocate() }
        var size: Int64 = 0
        while true {
            let filled = try reader.readUpTo(into: block.baseAddress!, length)
            if filled == 0 { break }
            sig.append(UnsafeRawBufferPointer(rebasing: block[0..<filled]))
            size += Int64(filled)
            if filled < length { break }
        }
        sig.setFileSize(size)
        return sig
    }

    init(blockLength: Int, strongLength: Int, fileSize: Int64, weak: [UInt32], strong: [UInt8]) {
        self.blockLength = blockLength
        self.strongLength = strongLength
        self.fileSize = fileSize
        self.weak = weak
        self.strong = strong
    }

    private mutating func setFileSize(_ size: Int64) {
        self = Signature(blockLength: blockLength, strongLength: strongLength, fileSize: size, weak: weak, strong: strong)
    }

    mutating func append(_ block: UnsafeRawBufferPointer) {
        weak.append(RollingChecksum(block).value)
        strong += StrongHash.digest(block).prefix(strongLength)
    }

    /// Writes the signature.
    func write(to writer: ByteWriter) throws(DeltaError) {
        try writer.write(Signature.magic)
        try writer.write([Signature.version, UInt8(strongLength), 0, 0])
        try writer.u32(UInt32(blockLength))
        try writer.u64(UInt64(fileSize))
        try writer.u32(UInt32(weak.count))
        for i in 0..<weak.count {
            try writer.u32(weak[i])
            try writer.write(Array(strong[(i * strongLength)..<((i + 1) * strongLength)]))
        }
    }

    /// Reads a signature, checking every field against `DeltaLimits` before allocating.
    static func read(from reader: ByteReader) throws(DeltaError) -> Signature {
        var magic: [UInt8] = []
        for _ in 0..<4 { magic.append(try reader.byte()) }
        guard magic == Signature.magic else { throw DeltaError("not a runner signature (bad magic)", path: reader.name) }
        let version = try reader.byte()
        guard version == Signature.version else { throw DeltaError("signature version \(version) is not supported", path: reader.name) }
        let strongLength = Int(try reader.byte())
        guard try reader.byte() == 0, try reader.byte() == 0 else {
            throw DeltaError("unknown flags in the signature header", path: reader.name)
        }
        let blockLength = Int(try reader.u32())
        let fileSize = Int64(bitPattern: try reader.u64())
        let count = Int(try reader.u32())
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
            throw DeltaError("block count \(count) does not fit file size \(fileSize) and block length \(blockLength)", path: reader.name)
        }
        var weak = [UInt32](); weak.reserveCapacity(count)
        var strong = [UInt8](); strong.reserveCapacity(count * strongLength)
        for _ in 0..<count {
            weak.append(try reader.u32())
            for _ in 0..<strongLength { strong.append(try reader.byte()) }
        }
        guard try reader.atEnd() else { throw DeltaError("trailing bytes after the signature", path: reader.name) }
        return Signature(blockLength: blockLength, strongLength: strongLength, fileSize: fileSize, weak: weak, strong: strong)
    }
}
