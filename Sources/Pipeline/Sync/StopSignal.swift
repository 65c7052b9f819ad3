#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A request to stop, raised from a signal handler and seen by the run loop:
/// a flag for code in the middle of a batch, and a pipe the loop polls.
public final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)
    /// Read end of the wake-up pipe, for `poll`.
    public let readDescriptor: Int32
    private let writeDescriptor: Int32

    /// A stop signal with its own pipe.
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

    /// Asks the loop to stop (safe to call from any thread).
    public func request() {
        flag.store(true, ordering: .sequentiallyConsistent)
        var byte: UInt8 = 1
        _ = write(writeDescriptor, &byte, 1)
    }

    /// Whether a stop was requested.
    public var isRequested: Bool { flag.load(ordering: .sequentiallyConsistent) }
}
