/// Two blocks written to collide the way an attacker who knows the XXH3 seed would:
/// the same rsync weak sum and the same full XXH3-128, found without any search.
///
/// XXH3 adds, per 8-byte lane, the lane itself and the product of the two halves of
/// `lane ^ key`. A lane whose low half equals the key's adds nothing to the product,
/// so its high half can move freely: +2^32 in lane 0 of stripe 0, -2^32 in stripe 1,
/// -2^32 in stripe 2 and +2^32 in stripe 3 leave the accumulator as it was. The four
/// changed bytes (+1, -1, -1, +1 at offsets 4, 68, 132, 196) leave rsync's sums
/// a = Σx and b = Σ(L-i)·x as they were, too.
public enum CollidingBlocks {
    /// The first 32 bytes of XXH3's published default secret (`XXH3_kSecret` in xxhash.h):
    /// the keys of lane 0 of the first four stripes.
    static let secretHead: [UInt8] = [
        0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
        0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
    ]

    /// Two different blocks of `filler.count` bytes (at least 264, so that XXH3 takes its
    /// long-input path and its last stripe misses the changed lanes) that collide under
    /// `seed`. XXH3 derives a seeded secret by adding the seed to even key words and
    /// subtracting it from odd ones.
    public static func make(seed: UInt64, filler: [UInt8]) -> (original: [UInt8], forged: [UInt8]) {
        precondition(filler.count >= 264)
        var original = filler
        var forged = filler
        for stripe in 0..<4 {
            var key: UInt64 = 0
            for i in 0..<8 { key |= UInt64(secretHead[8 * stripe + i]) << UInt64(8 * i) }
            key = stripe % 2 == 0 ? key &+ seed : key &- seed
            // A high half whose low byte is 0x80: the ±1 below never carries.
            let high = UInt64(0x5EED_0080) | UInt64(stripe) << 8
            let lane = high << 32 | key & 0xFFFF_FFFF
            let moved = stripe == 0 || stripe == 3 ? lane &+ (1 << 32) : lane &- (1 << 32)
            for i in 0..<8 {
                original[64 * stripe + i] = UInt8(truncatingIfNeeded: lane >> UInt64(8 * i))
                forged[64 * stripe + i] = UInt8(truncatingIfNeeded: moved >> UInt64(8 * i))
            }
        }
        return (original, forged)
    }
}
