#if canImport(Glibc)
    import Glibc
#endif

/// Lines over a blocking socket whose waits are bounded by its timeouts: the control
/// socket's request and reply, a webhook's status line.
public enum SocketLines {
    /// Bounds every later send (and, with `receiving`, every read) to `seconds`.
    public static func setTimeout(_ fd: Int32, seconds: Int, receiving: Bool = true, sending: Bool = true) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        let size = socklen_t(MemoryLayout<timeval>.size)
        if sending { setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, size) }
        if receiving { setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, size) }
    }

    /// Sends all of `bytes`; false when the peer or a timeout cut it short (errno says why).
    public static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + done, $0.count - done, Int32(MSG_NOSIGNAL))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }

    /// What came before the first newline, reading at most about `limit` bytes; nil when no
    /// newline came before the limit, the peer's close, or a timeout.
    public static func readLine(_ fd: Int32, limit: Int) -> ArraySlice<UInt8>? {
        var input: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !input.contains(10), input.count <= limit {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            input += buffer[..<n]
        }
        return input.firstIndex(of: 10).map { input[..<$0] }
    }
}
