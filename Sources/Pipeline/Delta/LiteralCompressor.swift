import CZstd

/// zstd for literal runs, used only where it pays: incompressible data (random,
/// already compressed) is stored as is, and after repeated misses the compressor
/// rests for a while instead of burning CPU on every chunk.
final class LiteralCompressor: @unchecked Sendable {
    // @unchecked: a compressor is used by one thread at a time; `DeltaCache`'s pool hands
    // each to one delta's maker and takes it back after (the Mutex orders the two).
    private let context: OpaquePointer
    private var scratch: UnsafeMutableRawBufferPointer
    private var misses = 0
    private var resting = 0

    init() {
        context = ZSTD_createCCtx()
        scratch = .allocate(byteCount: ZSTD_compressBound(DeltaLimits.maxLiteral), alignment: 16)
    }

    deinit {
        ZSTD_freeCCtx(context)
        scratch.deallocate()
    }

    /// Forgets the misses of the last file: each file gets its own chance.
    func reset() {
        misses = 0
        resting = 0
    }

    /// Compressed bytes when they are at least 1/32 smaller, else nil.
    func compress(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard bytes.count >= 128 else { return nil }
        if resting > 0 {
            resting -= 1
            return nil
        }
        let n = ZSTD_compressCCtx(context, scratch.baseAddress, scratch.count, bytes.baseAddress, bytes.count, 1)
        if ZSTD_isError(n) == 0, n < bytes.count - bytes.count / 32 {
            misses = 0
            return UnsafeRawBufferPointer(rebasing: scratch[0..<n])
        }
        misses += 1
        if misses >= 2 { resting = 8 }
        return nil
    }
}
