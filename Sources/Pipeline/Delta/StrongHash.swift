import CXXHash

#if canImport(Glibc)
    import Glibc
#endif

/// XXH3-128, always keyed with a seed: strong block sums (truncated per signature) and
/// whole-file sums.
///
/// Why a seed: unkeyed, XXH3 is easy to collide on purpose. A 64-bit lane whose low
/// half equals the secret's adds nothing to the product term, so moving 2^32 between
/// such lanes of two stripes (and back between two more, which keeps rsync's weak sum)
/// gives two blocks with equal weak sums and equal full 128-bit sums, found in no time;
/// at an offset that is a multiple of 1024 they also give two files with one whole-file
/// sum. A random seed changes the secret, so no one can aim at it in advance.
public enum StrongHash {
    /// A 128-bit digest: `low` holds the first 8 bytes of the little-endian encoding.
    public struct Digest: Sendable, Hashable {
        /// The low 64 bits.
        public var low: UInt64
        /// The high 64 bits.
        public var high: UInt64

        /// The 16 bytes, low 64 bits first, little-endian.
        public var bytes: [UInt8] {
            var out = [UInt8](repeating: 0, count: 16)
            for i in 0..<8 {
                out[i] = UInt8(truncatingIfNeeded: low >> (8 * UInt64(i)))
                out[8 + i] = UInt8(truncatingIfNeeded: high >> (8 * UInt64(i)))
            }
            return out
        }
    }

    /// The digest of a buffer.
    @inline(__always)
    public static func digest(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> Digest {
        let h = XXH3_128bits_withSeed(bytes.baseAddress, bytes.count, seed)
        return Digest(low: h.low64, high: h.high64)
    }

    /// XXH3-128 under one seed, with the secret that seed derives made once: XXH3 alone
    /// derives it again for every input over 240 bytes, which is every block.
    final class Keyed {
        let seed: UInt64
        private let secret = UnsafeMutableRawPointer.allocate(byteCount: Int(XXH3_SECRET_DEFAULT_SIZE), alignment: 64)

        init(seed: UInt64) {
            self.seed = seed
            XXH3_generateSecret_fromSeed(secret, seed)
        }

        deinit { secret.deallocate() }

        /// The digest of a buffer, equal to `StrongHash.digest(bytes, seed: seed)`.
        @inline(__always)
        func digest(_ bytes: UnsafeRawBufferPointer) -> Digest {
            let h = XXH3_128bits_withSecretandSeed(
                bytes.baseAddress, bytes.count, secret, Int(XXH3_SECRET_DEFAULT_SIZE), seed)
            return Digest(low: h.low64, high: h.high64)
        }
    }

    /// A fresh random seed (getrandom(2) through the system generator).
    public static func randomSeed() -> UInt64 {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }

    /// A streaming XXH3-128.
    final class Stream {
        private let state: OpaquePointer

        init(seed: UInt64) {
            state = XXH3_createState()
            XXH3_128bits_reset_withSeed(state, seed)
        }

        deinit { XXH3_freeState(state) }

        func update(_ bytes: UnsafeRawBufferPointer) {
            if bytes.count > 0 { XXH3_128bits_update(state, bytes.baseAddress, bytes.count) }
        }

        func finish() -> Digest {
            let h = XXH3_128bits_digest(state)
            return Digest(low: h.low64, high: h.high64)
        }
    }
}
