import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// A descriptor that becomes readable when another thread signals it (`eventfd`): how
/// a worker wakes the run loop's `poll`.
public final class Wakeup: Sendable {
    /// The descriptor to poll.
    public let descriptor: Int32

    public init() throws(SystemError) {
        descriptor = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard descriptor >= 0 else { throw SystemError("eventfd") }
    }

    deinit { close(descriptor) }

    /// Makes the descriptor readable (from any thread).
    public func signal() {
        var one: UInt64 = 1
        _ = write(descriptor, &one, 8)
    }

    /// Clears it (on the thread that polls).
    public func drain() {
        var count: UInt64 = 0
        _ = read(descriptor, &count, 8)
    }
}
