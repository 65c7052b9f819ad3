import RunnerSystem

// The field codec of the wire protocol's payloads: little-endian integers, varints
// (the delta format's `Varint`), length-prefixed strings. Every read is bounds-checked.

/// Builds a payload.
struct PayloadBuilder {
    private(set) var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func varint(_ v: UInt64) { Varint.append(v, to: &bytes) }
    mutating func reserve(_ count: Int) { bytes.reserveCapacity(bytes.count + count) }
    mutating func string(_ s: String) {
        let b = FileName.encode(s)
        varint(UInt64(b.count))
        bytes += b
    }
    mutating func raw(_ b: UnsafeRawBufferPointer) { bytes += b }
    mutating func append(_ b: [UInt8]) { bytes += b }
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

    /// The next `n` bytes.
    mutating func slice(_ n: Int) throws(WireError) -> ArraySlice<UInt8> { try take(n) }
    mutating func u8() throws(WireError) -> UInt8 { try take(1).first! }
    mutating func u32() throws(WireError) -> UInt32 {
        try take(4).reversed().reduce(0) { ($0 << 8) | UInt32($1) }
    }
    mutating func u64() throws(WireError) -> UInt64 {
        try take(8).reversed().reduce(0) { ($0 << 8) | UInt64($1) }
    }
    mutating func i64() throws(WireError) -> Int64 { Int64(bitPattern: try u64()) }
    mutating func varint() throws(WireError) -> UInt64 {
        try Varint.decode({ () throws(WireError) in try u8() }, malformed: { WireError($0) })
    }
    /// A position in a list a message answers (a signature, a sum, a file's content): at
    /// most `WireMessage.maxPaths`, as the list it points into.
    mutating func index() throws(WireError) -> Int {
        let value = try varint()
        guard value < UInt64(WireMessage.maxPaths) else { throw WireError("index \(value) is out of range") }
        return Int(value)
    }
    /// A string of at most `limit` bytes.
    mutating func string(limit: Int = WireLimits.maxString) throws(WireError) -> String {
        let n = try varint()
        guard n <= UInt64(limit) else { throw WireError("string of \(n) bytes is over the limit of \(limit)") }
        return FileName.decode(try take(Int(n)))
    }
    /// Exactly `count` bytes, or an error naming `what`.
    mutating func bytes(exactly count: Int, what: String) throws(WireError) -> [UInt8] {
        guard remaining == count else { throw WireError("malformed \(what)") }
        return Array(try take(count))
    }
    mutating func rest() -> ArraySlice<UInt8> {
        defer { offset = bytes.count }
        return bytes[offset...]
    }
    func end() throws(WireError) {
        guard remaining == 0 else { throw WireError("\(remaining) unexpected bytes at the end of a frame") }
    }
}
