#if canImport(Glibc)
    import Glibc
#endif

/// The wire protocol's frames: a 4-byte little-endian length (of type + payload),
/// a type byte, the payload (one `WireMessage`). Every length is checked against the
/// negotiated limit before anything is allocated.
enum FrameType: UInt8, Sendable {
    case hello = 0x01, welcome = 0x02, error = 0x03, bye = 0x04, challenge = 0x05, auth = 0x06
    /// A receiver dialing its sender (`upstream`): who it is, and the sender's proof.
    case dial = 0x07, dialProof = 0x08
    case scan = 0x10, entry = 0x11, scanEnd = 0x12, list = 0x13
    case signatures = 0x20, signatureData = 0x21, signatureEnd = 0x22
    case batch = 0x30, directory = 0x31, file = 0x32, data = 0x33, fileEnd = 0x34
    case symlink = 0x35, delete = 0x36, attributes = 0x37, commit = 0x38, result = 0x39, redo = 0x3A
    case moved = 0x3B
    /// The module's post-sync actions, described (for `--dry-run`): request, and the list.
    case actions = 0x40, actionList = 0x41
    /// Files of the module, for `--dry-run`'s diffs: request, and each file's content.
    case read = 0x42, content = 0x43
    case sums = 0x44, sum = 0x45
    /// Owners' names (`OwnerTable`).
    case owners = 0x46
}

/// Limits agreed in the handshake.
struct WireLimits: Sendable, Equatable {
    /// Largest frame (type + payload) either side sends.
    var maxFrame = (1 << 20) + 256
    /// Protocol version (2: seeded signatures, the compact delta format, REDO; 3: owners;
    /// 4: the sender seeds the signatures).
    static let version: UInt16 = 4
    /// Longest string a message carries unless it says otherwise (paths: the longest a
    /// receiver accepts is as long, `RelativePath.maxLength`).
    static let maxString = 4096
    /// Largest frame a peer may ask for.
    static let ceiling = (4 << 20) + 256
}

/// Reads frames from a byte stream.
final class FrameReader {
    private let input: ByteReader
    var limits = WireLimits()
    /// Once the session is open: owners' names are taken in, and entries get this host's ids.
    var owners: OwnerTable?

    init(fd: Int32, name: String) {
        input = ByteReader(fd: fd, name: name, capacity: 1 << 16)
    }

    /// Frames from any source of bytes (one with deadlines, say).
    init(_ input: ByteReader) { self.input = input }

    /// The next message, or nil at a clean end of the stream (between frames).
    func next() throws(WireError) -> WireMessage? {
        while true {
            guard let message = try nextFrame() else { return nil }
            guard let owners else { return message }
            if case .owners(let names) = message {
                try owners.learn(names)
                continue
            }
            return message.entryInfo.map { message.with(owners.incoming($0)) } ?? message
        }
    }

    private func nextFrame() throws(WireError) -> WireMessage? {
        if try io({ () throws(DeltaError) in try input.atEnd() }) { return nil }
        let length = Int(try io { () throws(DeltaError) in try input.u32() })
        guard length >= 1, length <= limits.maxFrame else {
            throw WireError("frame length \(length) is outside 1...\(limits.maxFrame)")
        }
        let raw = try io { () throws(DeltaError) in try input.byte() }
        guard let type = FrameType(rawValue: raw) else {
            throw WireError("unknown frame type 0x\(String(raw, radix: 16))")
        }
        var payload = [UInt8](repeating: 0, count: length - 1)
        if length > 1 {
            let input = self.input
            var failure: DeltaError?
            payload.withUnsafeMutableBytes { p in
                do throws(DeltaError) { try input.read(into: p.baseAddress!, length - 1) } catch { failure = error }
            }
            if let failure { throw WireError("connection: \(failure.message)") }
        }
        return try WireMessage.decode(type, payload)
    }

    private func io<T>(_ body: () throws(DeltaError) -> T) throws(WireError) -> T {
        do throws(DeltaError) { return try body() } catch { throw WireError("connection: \(error.message)") }
    }

    /// Gives the input buffer back while nothing unread is in it (an idle session).
    func release() { input.release() }

    /// The next message, which must be there; an ERROR from the peer is thrown.
    func receive() throws(WireError) -> WireMessage {
        guard let message = try next() else { throw WireError("the peer closed the connection") }
        if case .error(let text) = message { throw WireError("the peer refused: \(text)", refusal: text) }
        return message
    }
}

/// Writes frames to a byte stream.
final class FrameWriter {
    private let output: ByteWriter
    var limits = WireLimits()
    /// Once the session is open: entries go with this end's owners, their names ahead of them.
    var owners: OwnerTable?

    init(fd: Int32, name: String) {
        output = ByteWriter(fd: fd, name: name, capacity: 1 << 16)
    }

    /// Frames to any sink of bytes.
    init(_ output: ByteWriter) { self.output = output }

    /// A write failed: the peer closed (maybe after saying why, which is then still to read).
    private(set) var broken = false

    /// Sends one message (buffered until `flush`).
    func send(_ message: WireMessage) throws(WireError) {
        if let owners, let info = message.entryInfo {
            let (info, names) = owners.outgoing(info)
            if let names { try write(.owners(names)) }
            try write(message.with(info))
        } else {
            try write(message)
        }
    }

    private func write(_ message: WireMessage) throws(WireError) {
        var b = PayloadBuilder()
        message.encode(&b)
        precondition(b.bytes.count + 1 <= limits.maxFrame, "frame larger than the negotiated limit")
        do throws(DeltaError) {
            try output.u32(UInt32(b.bytes.count + 1))
            try output.byte(message.frameType.rawValue)
            try output.write(b.bytes)
        } catch {
            broken = true
            throw WireError("connection: \(error.message)")
        }
    }

    /// Says `text` as an ERROR and flushes, best effort: the peer may be gone already (SIGPIPE
    /// is ignored; a failed write is nothing more).
    func sayError(_ text: String) {
        try? send(.error(text))
        try? flush()
    }

    /// Gives the output buffer back while nothing is buffered (an idle session).
    func release() { output.release() }

    func flush() throws(WireError) {
        do throws(DeltaError) { try output.flush() } catch {
            broken = true
            throw WireError("connection: \(error.message)")
        }
    }
}
