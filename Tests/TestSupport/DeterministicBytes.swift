import RunnerSystem

/// Deterministic pseudo-random bytes (SplitMix64), so that a failing case can be replayed.
public func deterministicBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var random = SplitMix(state: seed &+ 0x9E37_79B9_7F4A_7C15)
    var out = [UInt8]()
    out.reserveCapacity(count)
    while out.count < count { withUnsafeBytes(of: random.next()) { out += $0.prefix(count - out.count) } }
    return out
}
