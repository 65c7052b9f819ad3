/// Computes a delta of a new file against a basis signature, streaming: memory is
/// the signature's index plus a window buffer, whatever the file size.
///
/// One pass with the rolling weak sum: where the window's weak sum is in the index
/// and its seeded XXH3 strong sum agrees, a block is copied (runs of consecutive blocks
/// merge into one operation) and the window jumps a block; otherwise the window
/// rolls one byte and that byte becomes literal data. The window's strong sum is
/// computed once, however many blocks share its weak sum (`BlockIndex`).
final class DeltaEncoder {
    private let sig: Signature
    private let writer: ByteWriter
    private let compressor: LiteralCompressor
    /// Keys the whole-file sum: chosen here, after the basis and the new file exist.
    private let fileSeed: UInt64
    /// Built only for a basis with blocks: most files of a batch have none (new, or small).
    private lazy var index = BlockIndex(sig)
    /// The strong sum under the signature's seed.
    private let strong: StrongHash.Keyed
    private var runStart = -1
    private var runCount = 0
    private(set) var stats = DeltaStats()

    /// `compressor` may be shared by the files of a batch, one after another.
    init(
        signature: Signature, writer: ByteWriter, seed: UInt64 = StrongHash.randomSeed(),
        compressor: LiteralCompressor = LiteralCompressor()
    ) {
        sig = signature
        self.writer = writer
        fileSeed = seed
        self.compressor = compressor
        compressor.reset()
        strong = StrongHash.Keyed(seed: signature.seed)
    }

    /// The streaming window over the new file: `buffer[0..<end]` holds input, the
    /// window starts at `p`, pending literal data starts at `lit`.
    private struct Window {
        let buffer: UnsafeMutableRawBufferPointer
        var end = 0, p = 0, lit = 0
        var eof = false
        var total: Int64 = 0
        var base: UnsafeMutablePointer<UInt8> { buffer.baseAddress!.assumingMemoryBound(to: UInt8.self) }

        /// Moves pending bytes to the front and reads more.
        mutating func refill(_ reader: ByteReader, _ hash: StrongHash.Stream) throws(DeltaError) {
            if lit > 0 {
                buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + lit, byteCount: end - lit)
                end -= lit; p -= lit; lit = 0
            }
            let n = try reader.readUpTo(into: buffer.baseAddress! + end, buffer.count - end)
            hash.update(UnsafeRawBufferPointer(start: buffer.baseAddress! + end, count: n))
            total += Int64(n)
            end += n
            if end < buffer.count { eof = true }
        }
    }

    /// Reads the new file to its end and writes the whole delta.
    func encode(reading reader: ByteReader) throws(DeltaError) {
        let L = sig.blockLength
        let hash = try header()
        guard sig.blockCount > 0 else { return try encodeWhole(reading: reader, hash: hash) }

        let buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: max(8 << 20, 4 * L + DeltaLimits.maxLiteral), alignment: 64)
        defer { buffer.deallocate() }
        var w = Window(buffer: buffer)
        let base = w.base

        var expected = -1  // the block after the last match: tried first
        var a: UInt32 = 0, b: UInt32 = 0
        var fresh = true
        let lengthWeight = UInt32(truncatingIfNeeded: L)

        try w.refill(reader, hash)
        while true {
            if w.p + L > w.end {
                if !w.eof { try w.refill(reader, hash); continue }
                break
            }
            if fresh {
                (a, b) = RollingChecksum.sums(UnsafeRawBufferPointer(start: base + w.p, count: L))
                fresh = false
            }
            let value = (a & 0xffff) | (b << 16)
            if index.mayMatch(value) || expected >= 0,
                let block = match(value, UnsafeRawBufferPointer(start: base + w.p, count: L), expected: expected)
            {
                try literal(UnsafeRawBufferPointer(start: base + w.lit, count: w.p - w.lit))
                try copy(block)
                expected = block + 1 < index.indexed ? block + 1 : -1
                w.p += L
                w.lit = w.p
                fresh = true
                continue
            }
            expected = -1
            if w.p + L >= w.end {
                if !w.eof { try w.refill(reader, hash); continue }
                break
            }
            // Roll byte by byte until the filter says a block may start here, the
            // buffer runs out, or the literal run is long enough to send. This loop
            // is the cost of data that is not in the basis: keep it to plain registers.
            var p = w.p
            let limit = min(w.end - L, w.lit + DeltaLimits.maxLiteral)
            let filter = index.filter, shift = index.shift
            repeat {
                let out = UInt32(base[p]), incoming = UInt32(base[p &+ L])
                a = a &- out &+ incoming
                b = b &- lengthWeight &* out &+ a
                p &+= 1
                let slot = Int(truncatingIfNeeded: (((a & 0xffff) | (b &<< 16)) &* 0x9E37_79B1) &>> shift)
                if filter[slot &>> 6] & (1 &<< UInt64(truncatingIfNeeded: slot & 63)) != 0 { break }
            } while p < limit
            w.p = p
            if w.p - w.lit >= DeltaLimits.maxLiteral {
                try literal(UnsafeRawBufferPointer(start: base + w.lit, count: DeltaLimits.maxLiteral))
                w.lit += DeltaLimits.maxLiteral
            }
        }
        // The basis's short last block can only match the very end of the new file.
        let lastLength = Int(sig.fileSize % Int64(L))
        if lastLength > 0, w.end - lastLength >= w.lit {
            let q = w.end - lastLength
            let window = UnsafeRawBufferPointer(start: base + q, count: lastLength)
            let last = sig.blockCount - 1
            if RollingChecksum(window).value == index.weak[last], index.agrees(last, strong.digest(window)) {
                try literal(UnsafeRawBufferPointer(start: base + w.lit, count: q - w.lit))
                try copy(last)
                w.lit = w.end
            }
        }
        try literal(UnsafeRawBufferPointer(start: base + w.lit, count: w.end - w.lit))
        try finish(size: w.total, hash: hash)
    }

    /// No basis: the whole file as literal data, without rolling a window over it.
    private func encodeWhole(reading reader: ByteReader, hash: StrongHash.Stream) throws(DeltaError) {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: DeltaLimits.maxLiteral, alignment: 64)
        defer { chunk.deallocate() }
        var total: Int64 = 0
        while true {
            let n = try reader.readUpTo(into: chunk.baseAddress!, chunk.count)
            let piece = UnsafeRawBufferPointer(rebasing: chunk[0..<n])
            hash.update(piece)
            try literal(piece)
            total += Int64(n)
            if n < chunk.count { break }
        }
        try finish(size: total, hash: hash)
    }

    /// A delta against a basis of the new file's size that differs from it only in the
    /// blocks `differing` marks (found by comparing `BlockSums`): the other blocks are
    /// copies in place, the marked ones literal data. Reads the new file once, in order,
    /// for the whole-file sum; bytes past the basis's blocks (the file grew since) are
    /// literal too, and the receiver's whole-file check settles the rest.
    static func inPlace(
        reading reader: ByteReader, basisSize: Int64, blockLength: Int, differing: [Bool], writer: ByteWriter,
        compressor: LiteralCompressor = LiteralCompressor()
    ) throws(DeltaError) -> DeltaStats {
        let shape = Signature(
            blockLength: blockLength, strongLength: Signature.defaultStrongLength, fileSize: basisSize, seed: 0,
            weak: [UInt32](repeating: 0, count: differing.count), strong: [])
        let encoder = DeltaEncoder(signature: shape, writer: writer, compressor: compressor)
        try encoder.encodeInPlace(reading: reader, differing: differing)
        return encoder.stats
    }

    /// The in-place delta (see `inPlace`): whole blocks read in order, each a copy or literal.
    private func encodeInPlace(reading reader: ByteReader, differing: [Bool]) throws(DeltaError) {
        let L = sig.blockLength
        let hash = try header()
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: L, alignment: 64)
        defer { block.deallocate() }
        var total: Int64 = 0
        var index = 0
        while true {
            let n = try reader.readUpTo(into: block.baseAddress!, L)
            guard n > 0 else { break }
            let bytes = UnsafeRawBufferPointer(rebasing: block[0..<n])
            hash.update(bytes)
            let basisLength = index < differing.count ? min(Int64(L), sig.fileSize - Int64(index) * Int64(L)) : 0
            if index < differing.count, !differing[index], Int64(n) == basisLength {
                try copy(index)
            } else {
                try literal(bytes)
            }
            total += Int64(n)
            index += 1
            if n < L { break }
        }
        try finish(size: total, hash: hash)
    }

    /// Writes the header; returns the whole-file sum to feed.
    private func header() throws(DeltaError) -> StrongHash.Stream {
        try writer.write(DeltaFormat.magic)
        try writer.write([DeltaFormat.version, 0])
        try writer.varint(UInt64(sig.blockLength))
        try writer.varint(UInt64(sig.fileSize))
        try writer.u64(fileSeed)
        return StrongHash.Stream(seed: fileSeed)
    }

    private func finish(size: Int64, hash: StrongHash.Stream) throws(DeltaError) {
        try flushRun()
        try writer.byte(DeltaFormat.end)
        try writer.varint(UInt64(size))
        try writer.write(hash.finish().bytes)
        try writer.flush()
        stats.newSize = size
        stats.deltaBytes = writer.total
    }

    /// The block this window is: the one after the last match if it agrees (runs stay
    /// runs), else the first block with its weak and strong sums.
    @inline(__always)
    private func match(_ value: UInt32, _ window: UnsafeRawBufferPointer, expected: Int) -> Int? {
        var digest: StrongHash.Digest?
        if expected >= 0, index.weak[expected] == value {
            let d = strong.digest(window)
            if index.agrees(expected, d) { return expected }
            digest = d
        }
        guard index.contains(weak: value) else { return nil }
        return index.find(weak: value, digest ?? strong.digest(window))
    }

    private func copy(_ block: Int) throws(DeltaError) {
        let length =
            block == sig.blockCount - 1 ? Int(sig.fileSize - Int64(block) * Int64(sig.blockLength)) : sig.blockLength
        stats.copiedBytes += Int64(length)
        if runStart >= 0, block == runStart + runCount {
            runCount += 1
            return
        }
        try flushRun()
        runStart = block
        runCount = 1
    }

    private func flushRun() throws(DeltaError) {
        guard runStart >= 0 else { return }
        try writer.byte(DeltaFormat.copy)
        try writer.varint(UInt64(runStart))
        try writer.varint(UInt64(runCount))
        runStart = -1
        runCount = 0
    }

    /// Literal data, in operations of at most `DeltaLimits.maxLiteral` bytes each.
    private func literal(_ bytes: UnsafeRawBufferPointer) throws(DeltaError) {
        guard bytes.count > 0 else { return }
        try flushRun()
        var offset = 0
        while offset < bytes.count {
            let piece = UnsafeRawBufferPointer(
                rebasing: bytes[offset..<min(bytes.count, offset + DeltaLimits.maxLiteral)])
            offset += piece.count
            stats.literalBytes += Int64(piece.count)
            if let packed = compressor.compress(piece) {
                try writer.byte(DeltaFormat.zstdLiteral)
                try writer.varint(UInt64(piece.count))
                try writer.varint(UInt64(packed.count))
                try writer.write(packed)
                stats.storedLiteralBytes += Int64(packed.count)
            } else {
                try writer.byte(DeltaFormat.literal)
                try writer.varint(UInt64(piece.count))
                try writer.write(piece)
                stats.storedLiteralBytes += Int64(piece.count)
            }
        }
    }
}
