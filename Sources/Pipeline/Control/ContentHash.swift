import CXXHash

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
    public var description: String { Self.hex(high) + Self.hex(low) }

    public static func < (a: ContentHash, b: ContentHash) -> Bool { (a.high, a.low) < (b.high, b.low) }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// The 16 bytes, high half first, big-endian (as `description` reads).
    var bytes: [UInt8] {
        (0..<16).map { i in UInt8(truncatingIfNeeded: (i < 8 ? high : low) >> (8 * UInt64(7 - i % 8))) }
    }

    /// From 16 bytes as `bytes` writes them.
    init(bytes: some Collection<UInt8>) {
        var high: UInt64 = 0, low: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { high = high << 8 | UInt64(b) } else { low = low << 8 | UInt64(b) }
        }
        self.init(high: high, low: low)
    }
}

/// XXH3-128 under one secret seed, streaming: a file's content is hashed as it is copied.
final class ContentHasher {
    private let state: OpaquePointer

    init(seed: UInt64) {
        state = XXH3_createState()
        XXH3_128bits_reset_withSeed(state, seed)
    }

    deinit { XXH3_freeState(state) }

    func update(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > 0 { XXH3_128bits_update(state, bytes.baseAddress, bytes.count) }
    }

    func finish() -> ContentHash {
        let h = XXH3_128bits_digest(state)
        return ContentHash(high: h.high64, low: h.low64)
    }

    /// The hash of a buffer in one call.
    static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> ContentHash {
        let h = XXH3_128bits_withSeed(bytes.baseAddress, bytes.count, seed)
        return ContentHash(high: h.high64, low: h.low64)
    }
}
