/// Deterministic pseudo-random bytes (SplitMix64), so that a failing case can be replayed.
public func deterministicBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var random = SplitMix(state: seed &+ 0x9E37_79B9_7F4A_7C15)
    var out = [UInt8]()
    out.reserveCapacity(count)
    while out.count < count { withUnsafeBytes(of: random.next()) { out += $0.prefix(count - out.count) } }
    return out
}

/// SplitMix64: a small seeded generator, so that a run can be replayed from its seed.
public struct SplitMix: RandomNumberGenerator {
    var state: UInt64

    /// A generator whose first number comes from `state`.
    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
