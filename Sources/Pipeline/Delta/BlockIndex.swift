/// The basis's blocks as the encoder looks them up: first by weak sum (is any block's
/// weak sum this window's?), then by weak and strong sum together (which block is it?).
///
/// Two levels, so that a basis written to share one weak sum across all its blocks
/// costs one strong hash per window and one lookup, not a walk over every block with
/// that weak sum. Everything lives in raw memory: the encoder's per-byte loop reads
/// `filter`, and array bounds checks and retains there cost more than the work.
final class BlockIndex {
    /// Blocks that can match anywhere: the full-length ones (a short last block can
    /// only match the very end of the new file).
    let indexed: Int
    /// One bit per weak slot, small enough for L1 cache: the per-byte test.
    let filter: UnsafeMutablePointer<UInt64>
    /// Weak slot of a weak sum: `(value &* 0x9E37_79B1) >> shift`.
    let shift: UInt32
    /// Weak sums, one per block.
    let weak: UnsafeMutablePointer<UInt32>
    private let blocks: Int
    /// Per weak slot, blocks with distinct weak sums (one representative each).
    private let weakHeads: UnsafeMutablePointer<Int32>
    private let weakNext: UnsafeMutablePointer<Int32>
    /// Per slot of (weak, strong), blocks in file order.
    private let strongHeads: UnsafeMutablePointer<Int32>
    private let strongNext: UnsafeMutablePointer<Int32>
    private let strongMask: Int
    /// Each block's strong sum as two words: its first 8 bytes, and the rest (up to 8 more).
    private let strongLow: UnsafeMutablePointer<UInt64>
    private let strongHigh: UnsafeMutablePointer<UInt64>
    /// The bits of a digest's high word that the signature kept.
    private let highMask: UInt64

    init(_ signature: Signature) {
        blocks = max(1, signature.blockCount)
        indexed =
            signature.fileSize % Int64(signature.blockLength) == 0
            ? signature.blockCount : max(0, signature.blockCount - 1)
        // 16 weak slots per block: a random window finds an empty slot ~94% of the time,
        // which is the common case for data that is not in the basis.
        var bits: UInt32 = 10
        while (1 << bits) < indexed * 16 && bits < 24 { bits += 1 }
        shift = 32 - bits
        let weakSlots = 1 << bits
        var strongSlots = 1024
        while strongSlots < indexed * 2 { strongSlots <<= 1 }
        strongMask = strongSlots - 1
        filter = .allocate(capacity: max(1, weakSlots / 64))
        filter.initialize(repeating: 0, count: max(1, weakSlots / 64))
        weakHeads = .allocate(capacity: weakSlots)
        weakHeads.initialize(repeating: -1, count: weakSlots)
        strongHeads = .allocate(capacity: strongSlots)
        strongHeads.initialize(repeating: -1, count: strongSlots)
        weakNext = .allocate(capacity: blocks)
        strongNext = .allocate(capacity: blocks)
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
        // In reverse, so that a strong chain lists equal blocks in file order.
        for i in stride(from: indexed - 1, through: 0, by: -1) {
            let slot = Int((weak[i] &* 0x9E37_79B1) >> shift)
            filter[slot >> 6] |= 1 << UInt64(slot & 63)
            var j = weakHeads[slot]
            while j >= 0, weak[Int(j)] != weak[i] { j = weakNext[Int(j)] }
            if j < 0 {
                weakNext[i] = weakHeads[slot]
                weakHeads[slot] = Int32(i)
            }
            let s = strongSlot(weak[i], strongLow[i])
            strongNext[i] = strongHeads[s]
            strongHeads[s] = Int32(i)
        }
    }

    deinit {
        filter.deallocate()
        weakHeads.deallocate()
        weakNext.deallocate()
        strongHeads.deallocate()
        strongNext.deallocate()
        weak.deallocate()
        strongLow.deallocate()
        strongHigh.deallocate()
    }

    @inline(__always)
    private func strongSlot(_ weak: UInt32, _ low: UInt64) -> Int {
        Int(truncatingIfNeeded: ((low ^ UInt64(weak)) &* 0x9E37_79B9_7F4A_7C15) >> 32) & strongMask
    }

    /// Whether the filter admits a window with this weak sum.
    @inline(__always)
    func mayMatch(_ value: UInt32) -> Bool {
        let slot = Int((value &* 0x9E37_79B1) >> shift)
        return filter[slot >> 6] & (1 << UInt64(slot & 63)) != 0
    }

    /// Whether some indexed block has this weak sum.
    @inline(__always)
    func contains(weak value: UInt32) -> Bool {
        var j = weakHeads[Int((value &* 0x9E37_79B1) >> shift)]
        while j >= 0 {
            if weak[Int(j)] == value { return true }
            j = weakNext[Int(j)]
        }
        return false
    }

    /// The first indexed block with this weak sum and strong digest.
    @inline(__always)
    func find(weak value: UInt32, _ digest: StrongHash.Digest) -> Int? {
        var j = strongHeads[strongSlot(value, digest.low)]
        while j >= 0 {
            let block = Int(j)
            if weak[block] == value, agrees(block, digest) { return block }
            j = strongNext[block]
        }
        return nil
    }

    /// Whether a block's strong sum is this digest's prefix.
    @inline(__always)
    func agrees(_ block: Int, _ digest: StrongHash.Digest) -> Bool {
        strongLow[block] == digest.low && strongHigh[block] == digest.high & highMask
    }
}
