/// What a file, a directory of a manifest or a rendered template is called in the content
/// store: XXH3-128 of its bytes, keyed with the store's own secret seed. Keyed, because
/// unkeyed XXH3 can be collided on purpose (see `StrongHash`): two files that collided
/// would share one stored content. The seed never leaves the state directory, so no one
/// can aim at it; within one store, equal bytes always have one name.
public struct ContentHash: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The high and low 64 bits.
    public let high: UInt64
    public let low: UInt64

    /// A hash from its two halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The hash written as 32 hexadecimal digits (`description`), or nil.
    public init?(hex: some StringProtocol) {
        guard hex.count == 32, let high = UInt64(hex.prefix(16), radix: 16), let low = UInt64(hex.suffix(16), radix: 16)
        else { return nil }
        self.init(high: high, low: low)
    }

    /// 32 hexadecimal digits.
    public var description: String {
        // Written into the string's own buffer: an object's path is made for every lookup.
        String(unsafeUninitializedCapacity: 32) { out in
            for i in 0..<32 {
                let nibble = Int(((i < 16 ? high : low) >> UInt64(60 - 4 * (i % 16))) & 0xF)
                out[i] = nibble < 10 ? UInt8(ascii: "0") + UInt8(nibble) : UInt8(ascii: "a") + UInt8(nibble - 10)
            }
            return 32
        }
    }

    public static func < (a: ContentHash, b: ContentHash) -> Bool { (a.high, a.low) < (b.high, b.low) }

    /// The 16 bytes, high half first, big-endian (as `description` reads).
    var bytes: [UInt8] {
        (0..<16).map { i in UInt8(truncatingIfNeeded: (i < 8 ? high : low) >> (8 * UInt64(7 - i % 8))) }
    }

    /// A digest of the delta engine's XXH3-128 (the same function, keyed with the store's seed).
    init(_ digest: StrongHash.Digest) { self.init(high: digest.high, low: digest.low) }

    /// From 16 bytes as `bytes` writes them.
    init(bytes: some Collection<UInt8>) {
        var high: UInt64 = 0, low: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { high = high << 8 | UInt64(b) } else { low = low << 8 | UInt64(b) }
        }
        self.init(high: high, low: low)
    }
}
