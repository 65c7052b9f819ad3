#if canImport(Glibc)
    import Glibc
#endif

/// Buffered reads from a file descriptor (or any source of bytes), with the bounded
/// primitives the formats need.
final class ByteReader {
    /// Fills a buffer with up to its size; returns the count, 0 at the end.
    typealias Source = (UnsafeMutableRawBufferPointer) throws(DeltaError) -> Int

    let name: String
    private let source: Source
    /// Empty while released (`release`), allocated again at the next read.
    private var buffer: UnsafeMutableRawBufferPointer
    private let capacity: Int
    private var start = 0
    private var end = 0
    private var eof = false

    /// A buffer for a stream of about `size` bytes: small files (most of a batch) do not
    /// each map and unmap a megabyte.
    static func capacity(for size: Int64) -> Int { Int(min(1 << 20, max(4096, size + 64))) }

    init(name: String, capacity: Int = 1 << 20, source: @escaping Source) {
        self.name = name
        self.source = source
        self.capacity = capacity
        buffer = BufferPool.frames.take(capacity)
    }

    convenience init(fd: Int32, name: String, capacity: Int = 1 << 20) {
        self.init(name: name, capacity: capacity) { (into) throws(DeltaError) in
            while true {
                let n = Glibc.read(fd, into.baseAddress, into.count)
                if n >= 0 { return n }
                if errno != EINTR { throw DeltaError("read failed: \(String(cString: strerror(errno)))", path: name) }
            }
        }
    }

    /// Reads bytes held in memory (a signature that came in frames, say).
    convenience init(bytes: [UInt8], name: String) {
        var offset = 0
        self.init(name: name, capacity: ByteReader.capacity(for: Int64(bytes.count))) { (into) throws(DeltaError) in
            let n = min(into.count, bytes.count - offset)
            bytes.withUnsafeBytes {
                into.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)]))
            }
            offset += n
            return n
        }
    }

    deinit { BufferPool.frames.give(buffer) }

    /// Gives the buffer back while nothing unread is in it (a session between batches holds
    /// no buffer); the next read allocates it again.
    func release() {
        guard start == end, buffer.count > 0 else { return }
        BufferPool.frames.give(buffer)
        buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        start = 0
        end = 0
    }

    /// Fills the buffer so that at least `count` bytes are available, unless EOF comes first.
    private func fill(_ count: Int) throws(DeltaError) {
        if end - start >= count || eof { return }
        if buffer.count == 0 { buffer = BufferPool.frames.take(capacity) }
        if start > 0 {
            buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: end - start)
            end -= start
            start = 0
        }
        while end - start < count && !eof {
            let n = try source(UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
            if n == 0 { eof = true }
            end += n
        }
    }

    /// Whether the input has ended (no bytes left).
    func atEnd() throws(DeltaError) -> Bool {
        try fill(1)
        return end == start
    }

    func byte() throws(DeltaError) -> UInt8 {
        try fill(1)
        guard end > start else { throw DeltaError("truncated input", path: name) }
        defer { start += 1 }
        return buffer[start]
    }

    func u32() throws(DeltaError) -> UInt32 {
        try fill(4)
        guard end - start >= 4 else { throw DeltaError("truncated input", path: name) }
        defer { start += 4 }
        return UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: start, as: UInt32.self))
    }

    func u64() throws(DeltaError) -> UInt64 {
        try fill(8)
        guard end - start >= 8 else { throw DeltaError("truncated input", path: name) }
        defer { start += 8 }
        return UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: start, as: UInt64.self))
    }

    /// An unsigned LEB128 varint, at most 10 bytes and no overflow.
    func varint() throws(DeltaError) -> UInt64 {
        try Varint.decode({ () throws(DeltaError) in try byte() }, malformed: { DeltaError($0, path: name) })
    }

    /// Passes exactly `count` bytes to `body`, in pieces; the caller has bounded `count`.
    func bytes(_ count: Int, _ body: (UnsafeRawBufferPointer) throws(DeltaError) -> Void) throws(DeltaError) {
        var left = count
        while left > 0 {
            try fill(min(left, capacity))
            let available = min(left, end - start)
            guard available > 0 else { throw DeltaError("truncated input", path: name) }
            try body(UnsafeRawBufferPointer(rebasing: buffer[start..<(start + available)]))
            start += available
            left -= available
        }
    }

    /// Up to `count` bytes into `destination`, fewer only at the end of the input.
    func readUpTo(into destination: UnsafeMutableRawPointer, _ count: Int) throws(DeltaError) -> Int {
        var offset = 0
        while offset < count {
            try fill(min(count - offset, capacity))
            let available = min(count - offset, end - start)
            if available == 0 { break }
            (destination + offset).copyMemory(from: buffer.baseAddress! + start, byteCount: available)
            start += available
            offset += available
        }
        return offset
    }

    /// Exactly `count` bytes into `destination` (which holds at least that many).
    func read(into destination: UnsafeMutableRawPointer, _ count: Int) throws(DeltaError) {
        var offset = 0
        try bytes(count) { (chunk: UnsafeRawBufferPointer) throws(DeltaError) in
            destination.advanced(by: offset).copyMemory(from: chunk.baseAddress!, byteCount: chunk.count)
            offset += chunk.count
        }
    }
}

/// Buffered writes to a file descriptor (or any sink of bytes).
final class ByteWriter {
    /// Takes a chunk of bytes, all of it.
    typealias Sink = (UnsafeRawBufferPointer) throws(DeltaError) -> Void

    let name: String
    private let sink: Sink
    /// Allocated at the first write that is buffered, empty again once released
    /// (`release`): a writer given only whole chunks (a shared delta's bytes, a frame at a
    /// time) never maps one.
    private var buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private let capacity: Int
    private var count = 0
    /// Bytes written so far (flushed or not).
    private(set) var total: Int64 = 0

    init(name: String, capacity: Int = 1 << 20, sink: @escaping Sink) {
        self.name = name
        self.sink = sink
        self.capacity = capacity
    }

    convenience init(fd: Int32, name: String, capacity: Int = 1 << 20) {
        self.init(name: name, capacity: capacity) { (bytes) throws(DeltaError) in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DeltaError("write failed: \(String(cString: strerror(errno)))", path: name)
                }
                offset += n
            }
        }
    }

    deinit { BufferPool.frames.give(buffer) }

    /// Gives the buffer back while nothing is buffered; the next write allocates it again.
    func release() {
        guard count == 0, buffer.count > 0 else { return }
        BufferPool.frames.give(buffer)
        buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(DeltaError) {
        total += Int64(bytes.count)
        if count + bytes.count > capacity { try flush() }
        if bytes.count >= capacity {
            try writeAll(bytes)
            return
        }
        if buffer.count == 0 { buffer = BufferPool.frames.take(capacity) }
        (buffer.baseAddress! + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }

    func write(_ bytes: [UInt8]) throws(DeltaError) {
        // Array's withUnsafeBytes rethrows untyped errors: carry the typed one out.
        var failure: DeltaError?
        bytes.withUnsafeBytes { raw in
            do throws(DeltaError) { try write(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Writes `bytes` to the sink now, after what is buffered, without copying them into
    /// the buffer (bytes already whole: a shared delta).
    func writeThrough(_ bytes: ArraySlice<UInt8>) throws(DeltaError) {
        try flush()
        total += Int64(bytes.count)
        var failure: DeltaError?
        bytes.withUnsafeBytes { raw in
            do throws(DeltaError) { try writeAll(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    func byte(_ b: UInt8) throws(DeltaError) { try write([b]) }

    func u32(_ v: UInt32) throws(DeltaError) {
        try withUnsafeBytes(of: v.littleEndian) { (raw) throws(DeltaError) in try write(raw) }
    }

    func u64(_ v: UInt64) throws(DeltaError) {
        try withUnsafeBytes(of: v.littleEndian) { (raw) throws(DeltaError) in try write(raw) }
    }

    func varint(_ value: UInt64) throws(DeltaError) {
        try write(Varint.encode(value))
    }

    func flush() throws(DeltaError) {
        guard count > 0 else { return }
        try writeAll(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        count = 0
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(DeltaError) {
        if bytes.count > 0 { try sink(bytes) }
    }
}

/// Unsigned LEB128, as the delta format and the wire protocol write lengths and counts:
/// the one varint codec of both.
enum Varint {
    static func encode(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        append(value, to: &out)
        return out
    }

    /// Appends `value`'s encoding to `out` (no array of its own: payloads hold thousands).
    static func append(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        repeat {
            var b = UInt8(v & 0x7f)
            v >>= 7
            if v != 0 { b |= 0x80 }
            out.append(b)
        } while v != 0
    }

    /// Decodes a varint from `next`, refusing more than 10 bytes and overflow (what is
    /// wrong goes to `malformed`, which makes the caller's error).
    static func decode<E: Error>(_ next: () throws(E) -> UInt8, malformed: (String) -> E) throws(E) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try next()
            if shift == 63 && b > 1 { throw malformed("varint overflows 64 bits") }
            value |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return value }
            shift += 7
            if shift > 63 { throw malformed("varint longer than 10 bytes") }
        }
    }
}
