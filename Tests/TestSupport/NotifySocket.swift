import Foundation

/// A `$NOTIFY_SOCKET` the test binds, as systemd would: a unix datagram socket whose
/// messages (`READY=1\nSTATUS=…`) are read as they come.
public final class NotifySocket: @unchecked Sendable {
    // @unchecked: `messages` is only touched through `lock`.
    public let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var received: [(at: Date, text: String)] = []
    private var reader: Thread?

    public init(path: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        let thread = Thread { [fd, weak self] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                guard n > 0, let self else { return }
                let text = String(decoding: buffer[..<n], as: UTF8.self)
                self.lock.withLock { self.received.append((Date(), text)) }
            }
        }
        thread.start()
        reader = thread
    }

    /// Every message so far, in order.
    public var messages: [String] { lock.withLock { received.map(\.text) } }

    /// When each message came.
    public var arrivals: [Date] { lock.withLock { received.map(\.at) } }

    /// Waits for a message containing `text` (after `after` earlier messages); its index.
    public func waitFor(_ text: String, after: Int = 0, timeout: Double = 20) async -> Int? {
        var found: Int?
        _ = await eventually(timeout: timeout) {
            let all = messages
            found = all.indices.dropFirst(after).first { all[$0].contains(text) }
            return found != nil
        }
        return found
    }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        unlink(path)
    }
}

/// One HTTP GET to 127.0.0.1, as a browser or curl would make it: status and body.
public func httpGet(port: Int, _ path: String) throws -> (status: Int, body: String) {
    let connection = try RawConnection(port: port)
    connection.write(Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
    let text = String(decoding: connection.readAll(timeout: 5), as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n"), let code = Int(text.split(separator: " ").dropFirst().first ?? "")
    else { throw POSIXError(.EPROTO) }
    return (code, String(text[split.upperBound...]))
}
