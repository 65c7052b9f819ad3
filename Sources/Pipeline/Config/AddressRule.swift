#if canImport(Glibc)
    import Glibc
#endif

/// A `hosts_allow` / `hosts_deny` entry: an IPv4 or IPv6 address or CIDR block.
public struct AddressRule: Sendable, Equatable, CustomStringConvertible {
    /// The address bytes (4 or 16).
    let network: [UInt8]
    /// Leading bits that must match.
    let prefix: Int
    /// The rule as written.
    public let text: String

    /// Parses `10.0.0.0/8`, `127.0.0.1`, `::1`, `fd00::/8`.
    public init(parsing text: String) throws(ConfigError) {
        self.text = text
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let address = AddressRule.bytes(parts[0]) else {
            throw ConfigError("'\(text)' is not an IP address or CIDR block", hint: "like 10.0.0.0/8, 127.0.0.1 or ::1")
        }
        let bits = address.count * 8
        var prefix = bits
        if parts.count == 2 {
            guard let p = Int(parts[1]), (0...bits).contains(p) else {
                throw ConfigError("'\(text)': the prefix length must be 0...\(bits)")
            }
            prefix = p
        }
        network = address
        self.prefix = prefix
    }

    /// Whether an address (as text, IPv4-mapped IPv6 included) falls in the block.
    public func matches(_ address: String) -> Bool {
        guard var bytes = AddressRule.bytes(address) else { return false }
        // ::ffff:a.b.c.d is the IPv4 client of a dual-stack socket.
        if bytes.count == 16, network.count == 4, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff,
            bytes[11] == 0xff
        {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == network.count else { return false }
        var left = prefix
        for i in 0..<bytes.count where left > 0 {
            let mask: UInt8 = left >= 8 ? 0xff : ~(0xff >> UInt8(left))
            if bytes[i] & mask != network[i] & mask { return false }
            left -= 8
        }
        return true
    }

    static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    public var description: String { text }

    /// The access decision for a peer: denied if a deny rule matches; else allowed if
    /// there are no allow rules or one matches.
    public static func allows(_ address: String, allow: [AddressRule], deny: [AddressRule]) -> Bool {
        if deny.contains(where: { $0.matches(address) }) { return false }
        return allow.isEmpty || allow.contains { $0.matches(address) }
    }
}
