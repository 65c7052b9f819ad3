import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// A thread of its own for one piece of blocking work (a delivery to a host that may be
/// slow, hung or gone): never the cooperative pool, whose few threads one hung peer
/// could hold. The thread starts with the signal mask of its creator (`RunControl`
/// blocks its signals before any thread starts) and is detached: it ends with `body`.
public enum WorkerThread {
    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Runs `body` on a new detached thread.
    public static func start(_ body: @escaping @Sendable () -> Void) throws(SystemError) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let rc = pthread_create(
            &thread, &attributes,
            { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                box.body()
                return nil
            }, box)
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw SystemError("start a thread", code: rc)
        }
    }
}

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
