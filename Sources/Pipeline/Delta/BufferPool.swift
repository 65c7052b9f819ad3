import Synchronization

/// Stream buffers of one size, kept for the next stream instead of freed.
///
/// A session's frame buffers (64 KiB each way) are given back between batches, so that an
/// idle host holds none. Freed, each is an munmap, whose TLB shootdown interrupts every other
/// core the process runs on: a tenth of a 100-host sender's CPU went there. A batch's
/// sessions take them from here and put them back; the pool keeps at most `keep` (the
/// deliveries a window runs at once, both ways), so what idles is bounded by the window,
/// not by the fleet.
final class BufferPool: Sendable {
    /// Frame readers' and writers' buffers: 16 deliveries at once (the default window),
    /// two pipelines' worth.
    static let frames = BufferPool(size: 1 << 16, keep: 64)

    let size: Int
    let keep: Int
    /// Addresses of the buffers kept (a pointer is not `Sendable`; an address is).
    private let kept = Mutex<[UInt]>([])

    init(size: Int, keep: Int) {
        self.size = size
        self.keep = keep
    }

    /// A buffer of `count` bytes: a kept one when `count` is the pool's size.
    func take(_ count: Int) -> UnsafeMutableRawBufferPointer {
        if count == size, let address = kept.withLock({ $0.popLast() }) {
            return UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(bitPattern: address), count: size)
        }
        return .allocate(byteCount: count, alignment: 16)
    }

    /// Takes back a buffer from `take`: kept while there is room, freed otherwise.
    func give(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        let keeping =
            buffer.count == size
            && kept.withLock { kept in
                guard kept.count < keep else { return false }
                kept.append(UInt(bitPattern: base))
                return true
            }
        if !keeping { buffer.deallocate() }
    }
}
