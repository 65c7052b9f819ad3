/// Computes a delta of a new file against a basis signature, streaming: memory is
/// the signature's index plus a window buffer, whatever the file size.
///
/// One pass with the rolling weak sum: where the window's weak sum is in the index
/// and its seeded XXH3 strong sum agrees, a block is copied (runs of consecutive blocks
/// merge into one operation) and the window jumps a block; otherwise the window
/// rolls one byte and that byte becomes literal data. The window's strong sum is
/// computed once, however many blocks share its weak sum.
final class DeltaEncoder {
    private let sig: Signature
    private let writer: ByteWriter
    private let compressor = LiteralCompressor()
    /// Keys the whole-file sum: chosen here, after the basis and the new file exist.
    private let fileSeed: UInt64
    // The index lives in raw memory: the hot loop runs once per byte of unmatched
    // data, and array bounds checks and retains there cost more than the work.
    private let heads: UnsafeMutablePointer<Int32>
    /// One bit per head slot, small enough for L1 cache: the per-byte test.
    private let filter: UnsafeMutablePointer<UInt64>
    private let chain: UnsafeMutablePointer<Int32>
    private let weak: UnsafeMutablePointer<UInt32>
    /// Each block's strong sum as two words: its first 8 bytes, and the rest (up to 8 more).
    private let strongLow: UnsafeMutablePointer<UInt64>
    private let strongHigh: UnsafeMutablePointer<UInt64>
    /// The bits of a digest's high word that the signature kept.
    private let highMask: UInt64
    private let indexed: Int
    private let headCount: Int
    private let shift: UInt32
    private var runStart = -1
    private var runCount = 0
    private(set) var stats = DeltaStats()

    /// Candidates with the window's weak sum tried per position: a basis built to share
    /// one weak sum costs at most this many word compares per byte.
    private static let maxCandidates = 64

    init(signature: Signature, writer: ByteWriter, seed: UInt64 = StrongHash.randomSeed()) {
        sig = signature
        self.writer = writer
        fileSeed = seed
        // Full-length blocks only: the short last block is matched at the end of the input.
        indexed = signature.fileSize % Int64(signature.blockLength) == 0 ? signature.blockCount : max(0, signature.blockCount - 1)
        // 16 slots per block: a random window finds an empty slot ~94% of the time,
        // which is the common case for data that is not in the basis.
        var bits: UInt32 = 10
        while (1 << bits) < indexed * 16 && bits < 24 { bits += 1 }
        shift = 32 - bits
        headCount = 1 << bits
        heads = .allocate(capacity: headCount)
        heads.initialize(repeating: -1, count: headCount)
        filter = .allocate(capacity: max(1, headCount / 64))
        filter.initialize(repeating: 0, count: max(1, headCount / 64))
        let blocks = max(1, signature.blockCount)
        chain = .allocate(capacity: blocks)
        chain.initialize(repeating: -1, count: blocks)
        weak = .allocate(capacity: blocks)
        strongLow = .allocate(capacity: blocks)
        strongHigh = .allocate(capacity: blocks)
        let length = signature.strongLength
        highMask = length >= 16 ? ~0 : (1 << UInt64(8 * (length - 8))) &- 1
        signature.strong.withUnsafeBytes { sums in
            for i in 0..<signature.blockCount {
                weak[i] = signature.weak[i]
                var low: UInt64 = 0, high: UInt64 = 0
                for j in 0..<length {
                    let byte = UInt64(sums[i * length + j])
                    if j < 8 { low |= byte << UInt64(8 * j) } else { high |= byte << UInt64(8 * (j - 8)) }
                }
                strongLow[i] = low
                strongHigh[i] = high
            }
        }
        // Insert in reverse so that chains list blocks in file order.
        for i in stride(from: indexed - 1, through: 0, by: -1) {
            let h = Int((weak[i] &* 0x9E37_79B1) >> shift)
            chain[i] = heads[h]
            heads[h] = Int32(i)
            filter[h >> 6] |= 1 << UInt64(h & 63)
        }
    }

    deinit {
        heads.deallocate()
        filter.deallocate()
        chain.deallocate()
        weak.deallocate()
        strongLow.deallocate()
        strongHigh.deallocate()
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
        let hash = StrongHash.Stream(seed: fileSeed)
        try writer.write(DeltaFormat.magic)
        try writer.write([DeltaFormat.version, 0])
        try writer.varint(UInt64(L))
        try writer.varint(UInt64(sig.fileSize))
        try writer.u64(fileSeed)
        guard sig.blockCount > 0 else { return try encodeWhole(reading: reader, hash: hash) }

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(8 << 20, 4 * L + DeltaLimits.maxLiteral), alignment: 64)
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
            let slot = Int((value &* 0x9E37_79B1) >> shift)
            if filter[slot >> 6] & (1 << UInt64(slot & 63)) != 0 || expected >= 0,
               let block = match(value, UnsafeRawBufferPointer(start: base + w.p, count: L), expected: expected) {
                try literal(UnsafeRawBufferPointer(start: base + w.lit, count: w.p - w.lit))
                try copy(block)
                expected = block + 1 < indexed ? block + 1 : -1
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
            let filter = self.filter, shift = self.shift
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
            if RollingChecksum(window).value == weak[last], strongAgrees(StrongHash.digest(window, seed: sig.seed), block: last) {
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

    private func finish(size: Int64, hash: StrongHash.Stream) throws(DeltaError) {
        try flushRun()
        try writer.byte(DeltaFormat.end)
        try writer.varint(UInt64(size))
        try writer.write(hash.finish().bytes)
        try writer.flush()
        stats.newSize = size
        stats.deltaBytes = writer.total
    }

    @inline(__always)
    private func match(_ value: UInt32, _ window: UnsafeRawBufferPointer, expected: Int) -> Int? {
        // The window's strong sum, computed at the first candidate whose weak sum agrees.
        var digest: StrongHash.Digest?
        if expected >= 0, weak[expected] == value {
            let d = StrongHash.digest(window, seed: sig.seed)
            if strongAgrees(d, block: expected) { return expected }
            digest = d
        }
        var i = heads[Int((value &* 0x9E37_79B1) >> shift)]
        var tries = 0
        while i >= 0, tries < Self.maxCandidates {
            let block = Int(i)
            if weak[block] == value, block != expected {
                let d = digest ?? StrongHash.digest(window, seed: sig.seed)
                if strongAgrees(d, block: block) { return block }
                digest = d
                tries += 1
            }
            i = chain[block]
        }
        return nil
    }

    @inline(__always)
    private func strongAgrees(_ digest: StrongHash.Digest, block: Int) -> Bool {
        strongLow[block] == digest.low && strongHigh[block] == digest.high & highMask
    }

    private func copy(_ block: Int) throws(DeltaError) {
        let length = block == sig.blockCount - 1 ? Int(sig.fileSize - Int64(block) * Int64(sig.blockLength)) : sig.blockLength
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
            let piece = UnsafeRawBufferPointer(rebasing: bytes[offset..<min(bytes.count, offset + DeltaLimits.maxLiteral)])
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
