/// The wire format, spelled out independently of the implementation: what a raw peer in a
/// test writes, byte by byte.
public enum WireBytes {
    /// The protocol version the frames below are written in.
    public static let version: UInt32 = 4
    public static func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    public static func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    public static func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        repeat { var b = UInt8(v & 0x7f); v >>= 7; if v != 0 { b |= 0x80 }; out.append(b) } while v != 0
        return out
    }
    public static func string(_ s: String) -> [UInt8] { varint(UInt64(s.utf8.count)) + Array(s.utf8) }
    public static func frame(_ type: UInt8, _ payload: [UInt8] = []) -> [UInt8] {
        le32(UInt32(payload.count + 1)) + [type] + payload
    }
    /// A HELLO; `token` is the sender's leader fencing token (0: no coordination).
    public static func hello(module: String = "fpm", user: String = "", magic: UInt32 = 0x5052_4E52, token: UInt64 = 0)
        -> [UInt8]
    {
        frame(0x01, le32(magic) + le32(version) + le32(1 << 20) + string(module) + string(user) + le64(token))
    }
    /// A WELCOME with the protocol's default limits.
    public static func welcome() -> [UInt8] { frame(0x02, le32(version) + le32((1 << 20) + 256) + le32(4096)) }
    /// An owner left as it is on the receiver: uid and gid both 2^32 - 1 (`chown`'s -1).
    public static func unchangedOwner() -> [UInt8] { varint(0xFFFF_FFFF) + varint(0xFFFF_FFFF) }
    /// Mode 0644, a fixed time and no owner, as DIRECTORY, FILE and ATTRIBUTES carry them.
    public static func attrs() -> [UInt8] { le32(0o644) + le64(1_700_000_000) + le32(0) + unchangedOwner() }
    /// One ENTRY of a listing: a regular file (kind 0) or a directory (kind 1) of `size` bytes.
    public static func entry(_ path: String, directory: Bool = false, size: UInt64 = 0) -> [UInt8] {
        frame(
            0x11,
            string(path) + [directory ? 1 : 0] + le32(directory ? 0o755 : 0o644) + unchangedOwner() + le64(size)
                + le64(1_700_000_000) + le32(0) + string(""))
    }
}
