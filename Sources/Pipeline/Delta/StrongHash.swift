import CXXHash

/// XXH3-128: strong block sums (truncated per signature) and whole-file sums.
public enum StrongHash {
    /// The 16-byte digest of a buffer, low 64 bits first, little-endian.
    public static func digest(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        bytes16(XXH3_128bits(bytes.baseAddress, bytes.count))
    }

    static func bytes16(_ h: XXH128_hash_t) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        withUnsafeBytes(of: h.low64.littleEndian) { for i in 0..<8 { out[i] = $0[i] } }
        withUnsafeBytes(of: h.high64.littleEndian) { for i in 0..<8 { out[8 + i] = $0[i] } }
        return out
    }

    /// Whether the first `count` bytes of the digest of `bytes` equal `expected[0..<count]`.
    @inline(__always)
    static func matches(_ bytes: UnsafeRawBufferPointer, _ expected: UnsafePointer<UInt8>, count: Int) -> Bool {
        let h = XXH3_128bits(bytes.baseAddress, bytes.count)
        var low = h.low64.littleEndian, high = h.high64.littleEndian
        return withUnsafeBytes(of: &low) { l in
            withUnsafeBytes(of: &high) { hi in
                for i in 0..<count where (i < 8 ? l[i] : hi[i - 8]) != expected[i] { return false }
                return true
            }
        }
    }

    /// A streaming XXH3-128.
    final class Stream {
        private let state: OpaquePointer

        init() {
            state = XXH3_createState()
            XXH3_128bits_reset(state)
        }

        deinit { XXH3_freeState(state) }

        func update(_ bytes: UnsafeRawBufferPointer) {
            if bytes.count > 0 { XXH3_128bits_update(state, bytes.baseAddress, bytes.count) }
        }

        func finish() -> [UInt8] { StrongHash.bytes16(XXH3_128bits_digest(state)) }
    }
}
