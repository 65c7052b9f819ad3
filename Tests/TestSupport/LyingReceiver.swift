import Foundation

/// A receiver on 127.0.0.1 that completes the handshake (HELLO, then WELCOME with protocol
/// 2's limits) and answers every request after it with whatever `answer` writes: a
/// receiver that lies in well-formed frames, as a sender meets one. It lies in its first
/// session only; later ones it closes after the welcome (a lie that costs CPU, an endless
/// listing, is not told again at every retry of the sender).
public final class LyingReceiver: @unchecked Sendable {
    // @unchecked: `count` is touched only under `lock`; the listener is closed once, in deinit.
    public typealias Answer = @Sendable (_ type: UInt8, _ payload: [UInt8], _ peer: RawConnection) -> Bool

    public let port: Int
    private let fd: Int32
    private let lock = NSLock()
    private var count = 0

    /// `answer` gets each request (frame type and payload) and the connection to write to,
    /// and returns whether to go on reading requests.
    public init(answer: @escaping Answer) throws {
        (fd, port) = try listenOnLoopback()
        let fd = self.fd
        Thread.detachNewThread { [weak self] in
            while true {
                let c = accept(fd, nil, nil)
                if c < 0 { return }
                let first = self?.lock.withLock { () -> Bool in
                    self?.count += 1
                    return self?.count == 1
                }
                Thread.detachNewThread {
                    let peer = RawConnection(accepted: c)
                    guard peer.readFrame()?.type == 0x01, peer.write(WireBytes.welcome()), first == true else { return }
                    while let request = peer.readFrame(timeout: 60), answer(request.type, request.payload, peer) {}
                }
            }
        }
    }

    /// Sessions accepted so far.
    public var sessions: Int { lock.withLock { count } }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
