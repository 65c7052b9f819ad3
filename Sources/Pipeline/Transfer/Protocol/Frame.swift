#if canImport(Glibc)
import Glibc
#endif

/// The wire protocol's frames: a 4-byte little-endian length (of type + payload),
/// a type byte, the payload. Every length is checked against the negotiated limit
/// before anything is allocated.
enum FrameType: UInt8, Sendable {
    case hello = 0x01, welcome = 0x02, error = 0x03, bye = 0x04, challenge = 0x05, auth = 0x06
    case scan = 0x10, entry = 0x11, scanEnd = 0x12
    case signatures = 0x20, signatureData = 0x21, signatureEnd = 0x22
    case batch = 0x30, directory = 0x31, file = 0x32, data = 0x33, fileEnd = 0x34
    case symlink = 0x35, delete = 0x36, attributes = 0x37, commit = 0x38, result = 0x39
    /// The receiver's answer to COMMIT when files failed their whole-file check against
    /// its copy: the paths to send again, whole, before the next COMMIT (once per batch).
    case redo = 0x3A
    /// The module's post-sync actions, described (for `--dry-run`): request, and the list.
    case actions = 0x40, actionList = 0x41
}

/// Limits agreed in the handshake.
struct WireLimits: Sendable, Equatable {
    /// Largest frame (type + payload) either side sends.
    var maxFrame = (1 << 20) + 256
    /// Protocol version (2: seeded signatures, the compact delta format, REDO).
    static let version: UInt16 = 2
    /// Largest frame a peer may ask for.
    static let ceiling = (4 << 20) + 256
}

/// Reads frames from a byte stream.
final class FrameReader {
    private let input: ByteReader
    var limits = WireLimits()

    init(fd: Int32, name: String) {
        input = ByteReader(fd: fd, name: name, capacity: 1 << 16)
    }

    /// The next frame, or nil at a clean end of the stream (between frames).
    func next() throws(WireError) -> (FrameType, [UInt8])? {
        if try io({ () throws(DeltaError) in try input.atEnd() }) { return nil }
        let length = Int(try io { () throws(DeltaError) in try input.u32() })
        guard length >= 1, length <= limits.maxFrame else {
            throw WireError("frame length \(length) is outside 1...\(limits.maxFrame)")
        }
        let raw = try io { () throws(DeltaError) in try input.byte() }
        guard let type = FrameType(rawValue: raw) else { throw WireError("unknown frame type 0x\(String(raw, radix: 16))") }
        var payload = [UInt8](repeating: 0, count: length - 1)
        if length > 1 {
            let input = self.input
            var failure: DeltaError?
            payload.withUnsafeMutableBytes { p in
                do throws(DeltaError) { try input.read(into: p.baseAddress!, length - 1) } catch { failure = error }
            }
            if let failure { throw WireError("connection: \(failure.message)") }
        }
        return (type, payload)
    }

    private func io<T>(_ body: () throws(DeltaError) -> T) throws(WireError) -> T {
        do throws(DeltaError) { return try body() } catch { throw WireError("connection: \(error.message)") }
    }

    /// The next frame, which must be present.
    func expect() throws(WireError) -> (FrameType, [UInt8]) {
        guard let frame = try next() else { throw WireError("the peer closed the connection") }
        if frame.0 == .error {
            var r = PayloadReader(frame.1)
            throw WireError("the peer refused: \((try? r.string()) ?? "(unreadable message)")")
        }
        return frame
    }
}

/// Writes frames to a byte stream.
final class FrameWriter {
    private let output: ByteWriter
    var limits = WireLimits()

    init(fd: Int32, name: String) {
        output = ByteWriter(fd: fd, name: name, capacity: 1 << 16)
    }

    func send(_ type: FrameType, _ payload: [UInt8] = []) throws(WireError) {
        precondition(payload.count + 1 <= limits.maxFrame, "frame larger than the negotiated limit")
        do throws(DeltaError) {
            try output.u32(UInt32(payload.count + 1))
            try output.byte(type.rawValue)
            try output.write(payload)
        } catch {
            throw WireError("connection: \(error.message)")
        }
    }

    func send(_ type: FrameType, _ build: (inout PayloadBuilder) -> Void) throws(WireError) {
        var b = PayloadBuilder()
        build(&b)
        try send(type, b.bytes)
    }

    func flush() throws(WireError) {
        do throws(DeltaError) { try output.flush() } catch { throw WireError("connection: \(error.message)") }
    }
}

/// Builds a payload.
struct PayloadBuilder {
    private(set) var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func varint(_ v: UInt64) { bytes += Varint.encode(v) }
    mutating func string(_ s: String) {
        let b = Array(s.utf8)
        varint(UInt64(b.count))
        bytes += b
    }
    mutating func raw(_ b: UnsafeRawBufferPointer) { bytes += b }
}

/// Reads a payload; every read is bounds-checked.
struct PayloadReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    private mutating func take(_ n: Int) throws(WireError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw WireError("truncated frame") }
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }

    mutating func u8() throws(WireError) -> UInt8 { try take(1).first! }
    mutating func u32() throws(WireError) -> UInt32 {
        try take(4).reversed().reduce(0) { ($0 << 8) | UInt32($1) }
    }
    mutating func u64() throws(WireError) -> UInt64 {
        try take(8).reversed().reduce(0) { ($0 << 8) | UInt64($1) }
    }
    mutating func i64() throws(WireError) -> Int64 { Int64(bitPattern: try u64()) }
    mutating func varint() throws(WireError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try u8()
            if shift == 63 && b > 1 { throw WireError("varint overflows 64 bits") }
            value |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return value }
            shift += 7
            if shift > 63 { throw WireError("varint longer than 10 bytes") }
        }
    }
    /// A string of at most `limit` bytes.
    mutating func string(limit: Int = RelativePath.maxLength) throws(WireError) -> String {
        let n = try varint()
        guard n <= UInt64(limit) else { throw WireError("string of \(n) bytes is over the limit of \(limit)") }
        return String(decoding: try take(Int(n)), as: UTF8.self)
    }
    mutating func rest() -> ArraySlice<UInt8> {
        defer { offset = bytes.count }
        return bytes[offset...]
    }
    func end() throws(WireError) {
        guard remaining == 0 else { throw WireError("\(remaining) unexpected bytes at the end of a frame") }
    }
}
