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
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listener = fd
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard bound, listen(listener, 16) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EADDRINUSE) }
        port = Int(UInt16(bigEndian: addr.sin_port))
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
