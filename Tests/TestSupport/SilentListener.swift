import Foundation

/// A TCP listener on 127.0.0.1 that accepts connections and never says a word: a hung
/// machine, or a frozen process, as a sender meets it.
public final class SilentListener: @unchecked Sendable {
    // @unchecked: `accepted` is touched only under `lock`; the descriptors are closed once, in deinit.
    public let port: Int
    private let fd: Int32
    private let lock = NSLock()
    private var accepted: [Int32] = []

    public init() throws {
        (fd, port) = try listenOnLoopback()
        Thread.detachNewThread { [self] in
            while true {
                let c = accept(fd, nil, nil)
                if c < 0 { return }
                lock.withLock { accepted.append(c) }
            }
        }
    }

    /// Connections accepted so far.
    public var connections: Int { lock.withLock { accepted.count } }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        for c in accepted { close(c) }
    }
}

/// A listening TCP socket on 127.0.0.1 at a port the kernel picked.
public func listenOnLoopback() throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard bound, listen(fd, 16) == 0 else {
        close(fd)
        throw POSIXError(.init(rawValue: errno) ?? .EADDRINUSE)
    }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}
