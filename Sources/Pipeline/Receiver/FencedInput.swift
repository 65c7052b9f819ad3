import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A receiver session's input from its sender. Once the session is admitted under a leader's
/// token, it waits for bytes in slices of a second and looks at its module's fence between
/// them: a newer leader's hello ends the session of a deposed one (frozen, cut off from
/// etcd) within a second, rather than at its idle timeout, and with it the lock on the tree
/// its open batch holds, which the new leader's batch waits for.
final class FencedInput: Sendable {
    private let fd: Int32
    /// The fence and the session's token, once admitted; the idle timeout (nil: none).
    private let admitted = Mutex<(fence: FenceFile, token: UInt64)?>(nil)
    private let idleTimeout = Mutex<Double?>(nil)

    init(fd: Int32) { self.fd = fd }

    /// From now on, waits are cut short when `fence` passes `token`.
    func admit(_ fence: FenceFile, token: UInt64) { admitted.withLock { $0 = (fence, token) } }

    /// Seconds a wait may last before the session gives up (SO_RCVTIMEO's, for a socket).
    func setIdleTimeout(_ seconds: Double) { idleTimeout.withLock { $0 = seconds } }

    /// The reader's source: bytes into `into` as `read(2)` gives them.
    func read(into: UnsafeMutableRawBufferPointer, name: String) throws(DeltaError) -> Int {
        if let (fence, token) = admitted.withLock({ $0 }) {
            let idle = idleTimeout.withLock { $0 }
            var waited = 0.0
            while true {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&p, 1, 1000)
                if ready > 0 || (ready < 0 && errno != EINTR) { break }
                waited += 1
                do { try fence.check(token) } catch { throw DeltaError(error.message, path: name) }
                if let idle, waited >= idle {
                    throw DeltaError("read failed: nothing came for \(Int(idle)) s (idle_timeout)", path: name)
                }
            }
        }
        while true {
            let n = Glibc.read(fd, into.baseAddress, into.count)
            if n >= 0 { return n }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                // The socket's receive timeout (`SO_RCVTIMEO`) ran out.
                throw DeltaError("read failed: nothing came in time", path: name)
            }
            if errno != EINTR { throw DeltaError("read failed: \(String(cString: strerror(errno)))", path: name) }
        }
    }
}
