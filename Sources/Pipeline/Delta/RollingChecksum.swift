/// rsync's weak checksum: `a` = sum of the bytes, `b` = sum of the running sums,
/// both mod 2^16; rolled one byte in O(1).
public struct RollingChecksum: Sendable, Equatable {
    var a: UInt32 = 0
    var b: UInt32 = 0
    /// Window length.
    public let length: Int

    /// The checksum of a window.
    public init(_ bytes: UnsafeRawBufferPointer) {
        length = bytes.count
        (a, b) = RollingChecksum.sums(bytes)
    }

    /// The 32-bit value: `b` in the high half, `a` in the low half.
    @inline(__always) public var value: UInt32 { (a & 0xffff) | (b << 16) }

    /// Slides the window one byte: `out` leaves at the front, `in` enters at the back.
    @inline(__always) public mutating func roll(out: UInt8, in new: UInt8) {
        a = a &- UInt32(out) &+ UInt32(new)
        b = b &- UInt32(truncatingIfNeeded: length) &* UInt32(out) &+ a
    }

    /// (a, b) of a block. Sequentially, `a += x; b += a` per byte gives
    /// b = Σ (n − i)·x_i. Here 16 lanes keep S = Σ chunks and P = Σ of the running S;
    /// then a = Σ S and b = 16·Σ P − Σ j·S[j], all mod 2^32 like the rolling update,
    /// two vector adds per 16 bytes. A tail shorter than 16 continues the recurrence.
    @inline(__always)
    static func sums(_ bytes: UnsafeRawBufferPointer) -> (UInt32, UInt32) {
        let n = bytes.count
        let chunks = n / 16
        var a: UInt32 = 0, b: UInt32 = 0
        if chunks > 0 {
            var s = SIMD16<UInt32>(repeating: 0), p = SIMD16<UInt32>(repeating: 0)
            var offset = 0
            for _ in 0..<chunks {
                s &+= SIMD16<UInt32>(
                    truncatingIfNeeded: bytes.loadUnaligned(fromByteOffset: offset, as: SIMD16<UInt8>.self))
                p &+= s
                offset += 16
            }
            let lane = SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
            a = s.wrappedSum()
            b = (p.wrappedSum() &<< 4) &- (s &* lane).wrappedSum()
        }
        var i = chunks * 16
        while i < n {
            a = a &+ UInt32(bytes[i])
            b = b &+ a
            i += 1
        }
        return (a, b)
    }
}
