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

    /// (a, b) of a block, 16 bytes at a time: for each chunk, `b` gains 16·a plus the
    /// chunk's bytes weighted 16, 15, ... 1, and `a` gains their sum.
    @inline(__always)
    static func sums(_ bytes: UnsafeRawBufferPointer) -> (UInt32, UInt32) {
        var a: UInt32 = 0, b: UInt32 = 0
        let n = bytes.count
        var i = 0
        let weights = SIMD16<UInt16>(16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
        while i + 16 <= n {
            let v = SIMD16<UInt16>(truncatingIfNeeded: bytes.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self))
            // Each weighted lane is at most 255·16 = 4080; the sum of 16 fits in 32 bits.
            let weighted = SIMD16<UInt32>(truncatingIfNeeded: v &* weights).wrappedSum()
            let sum = SIMD16<UInt32>(truncatingIfNeeded: v).wrappedSum()
            b = b &+ (a << 4) &+ weighted
            a = a &+ sum
            i += 16
        }
        while i < n {
            a = a &+ UInt32(bytes[i])
            b = b &+ a
            i += 1
        }
        return (a, b)
    }
}
