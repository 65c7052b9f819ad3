#if canImport(Glibc)
    import Glibc
#endif

/// Per-block sums of a large file whose size did not change: both ends compute them at
/// once (no signature to wait for, no rolling search), and the blocks that differ are
/// the only ones sent. A file edited in place (the common case: a config value, a
/// database page) costs its changed blocks; a file whose bytes moved goes the signature
/// way. Each sum is 8 bytes of XXH3 keyed with a seed fresh per request; "the same
/// bytes" also takes the whole-file XXH3-128 under that seed (no delta checks that case
/// afterwards), and an edit's delta carries its own whole-file check.
public struct BlockSums: Sendable, Equatable {
    /// Bytes per block (a power of two, 32 KiB to 1 MiB).
    public let blockLength: Int
    /// The sums, 8 bytes each, in block order.
    public let bytes: [UInt8]
    /// The whole file's XXH3-128 under the same seed.
    public let whole: [UInt8]

    /// Most blocks a reply describes (a 512 KiB frame): files over 64 GiB are not summed.
    public static let maxBlocks = 1 << 16
    static let sumLength = 8

    /// The block length for a file of `size` bytes: about 8,192 blocks, within 32 KiB … 1 MiB.
    public static func blockLength(for size: Int64) -> Int {
        var length = 32 << 10
        while length < 1 << 20 && Int64(length) * 8192 < size { length <<= 1 }
        return length
    }

    /// Whether a file of `size` bytes can be described.
    public static func fits(_ size: Int64) -> Bool {
        (size + Int64(blockLength(for: size)) - 1) / Int64(blockLength(for: size)) <= Int64(maxBlocks)
    }

    /// Sums as read from a peer (checked there: a power-of-two length, whole sums).
    public init(blockLength: Int, bytes: [UInt8], whole: [UInt8]) {
        self.blockLength = blockLength
        self.bytes = bytes
        self.whole = whole
    }

    /// The sums of everything `fd` holds, read from offset 0; nil when a read fails or
    /// the file is too large.
    static func of(_ fd: Int32, seed: UInt64) -> BlockSums? {
        var st = stat()
        guard fstat(fd, &st) == 0, fits(Int64(st.st_size)) else { return nil }
        let length = blockLength(for: Int64(st.st_size))
        let keyed = StrongHash.Keyed(seed: seed)
        let stream = StrongHash.Stream(seed: seed)
        // Whole blocks per read: 1 MiB is a multiple of every block length.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        var sums: [UInt8] = []
        var offset: off_t = 0
        while true {
            let n = pread(fd, buffer.baseAddress, buffer.count, offset)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { break }
            let got = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            stream.update(got)
            var start = 0
            while start < n {
                let low = keyed.digest(UnsafeRawBufferPointer(rebasing: got[start..<min(n, start + length)])).low
                withUnsafeBytes(of: low.littleEndian) { sums += $0 }
                start += length
            }
            offset += off_t(n)
            // A short read mid-file would put a block boundary in the wrong place.
            if n < buffer.count { break }
        }
        guard sums.count / sumLength <= maxBlocks else { return nil }
        return BlockSums(blockLength: length, bytes: sums, whole: stream.finish().bytes)
    }

    /// The blocks whose sums differ from `other`'s; nil when the two do not describe
    /// files of one shape (another block length or count).
    public func differing(from other: BlockSums) -> [Bool]? {
        guard blockLength == other.blockLength, bytes.count == other.bytes.count else { return nil }
        let count = bytes.count / Self.sumLength
        var result = [Bool](repeating: false, count: count)
        bytes.withUnsafeBytes { a in
            other.bytes.withUnsafeBytes { b in
                for i in 0..<count {
                    result[i] =
                        a.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                        != b.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                }
            }
        }
        return result
    }
}
