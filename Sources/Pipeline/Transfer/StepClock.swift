import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The deadlines of one session with a receiver: every read and every write waits at
/// most `timeout` seconds for progress, on non-blocking descriptors, and a timeout names
/// the host, the step and the time waited ("runner://h:8730/fpm: timed out after 10s
/// waiting for the result"). A host that accepts and never answers, or freezes mid-batch,
/// costs its own delivery that long and nothing else.
final class StepClock {
    let uri: TargetURI
    let timeout: Double
    /// What the session waits for now, as the message says it.
    var step = "connecting"

    init(uri: TargetURI, timeout: Double) {
        self.uri = uri
        self.timeout = timeout
    }

    private func timedOut() -> DeltaError {
        DeltaError("timed out after \(MonotonicClock.text(seconds: timeout)) \(step)", path: "\(uri)")
    }

    /// Waits until `fd` is ready for `events`, or throws the timeout.
    private func wait(_ fd: Int32, _ events: Int32) throws(DeltaError) {
        var p = pollfd(fd: fd, events: Int16(events), revents: 0)
        while true {
            let n = poll(&p, 1, Int32(timeout * 1000))
            if n > 0 { return }
            if n == 0 { throw timedOut() }
            if errno != EINTR { throw DeltaError("poll failed: \(SystemError.text())", path: "\(uri)") }
        }
    }

    /// Reads what is there (0 at the end of the stream), waiting for it at most `timeout`.
    func read(_ fd: Int32, _ into: UnsafeMutableRawBufferPointer) throws(DeltaError) -> Int {
        while true {
            let n = Glibc.read(fd, into.baseAddress, into.count)
            if n >= 0 { return n }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: try wait(fd, Int32(POLLIN))
            default: throw DeltaError("read failed: \(SystemError.text())", path: "\(uri)")
            }
        }
    }

    /// Writes everything, waiting for room at most `timeout` each time.
    func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(DeltaError) {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n >= 0 {
                offset += n
                continue
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: try wait(fd, Int32(POLLOUT))
            default: throw DeltaError("write failed: \(SystemError.text())", path: "\(uri)")
            }
        }
    }
}
