#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Requests to stop or to reload, raised from signal handlers and seen by the run
/// loop: flags for code in the middle of a batch, and a pipe the loop polls.
public final class RunControl: Sendable {
    private let stop = Atomic<Bool>(false)
    private let reload = Atomic<Bool>(false)
    /// Read end of the wake-up pipe, for `poll`.
    public let readDescriptor: Int32
    private let writeDescriptor: Int32

    /// A control with its own pipe.
    public init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 { fatalError("pipe: \(String(cString: strerror(errno)))") }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        readDescriptor = fds[0]
        writeDescriptor = fds[1]
    }

    deinit {
        close(readDescriptor)
        close(writeDescriptor)
    }

    /// Asks the loop to stop (safe from any thread).
    public func requestStop() {
        stop.store(true, ordering: .sequentiallyConsistent)
        wake()
    }

    /// Asks the loop to reload the configuration (safe from any thread).
    public func requestReload() {
        reload.store(true, ordering: .sequentiallyConsistent)
        wake()
    }

    /// Whether a stop was requested.
    public var isStopRequested: Bool { stop.load(ordering: .sequentiallyConsistent) }

    /// Whether a reload was requested since the last call; empties the wake-up pipe.
    public func takeReloadRequest() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(readDescriptor, &buffer, buffer.count) > 0 {}
        return reload.exchange(false, ordering: .sequentiallyConsistent)
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(writeDescriptor, &byte, 1)
    }
}
