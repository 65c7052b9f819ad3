import CLinux
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A thread of its own for one host's blocking work (deliveries to a host that may be
/// slow, hung or gone): never the cooperative pool, whose few threads one hung peer
/// could hold. It lives as long as this object and waits, asleep, between pieces of
/// work: starting a thread per delivery cost 0.1–0.5 ms of a 1.5 ms sync. It starts
/// with the signal mask of its creator (`RunControl` blocks its signals before any
/// thread starts).
public final class WorkerThread: Sendable {
    /// What the thread and its owner share; the thread holds it, not the owner, so that
    /// the owner can go away while a piece of work is still running.
    private final class Queue: Sendable {
        /// Work in order; nil tells the thread to end.
        let work = Mutex<[(@Sendable () -> Void)?]>([])
        /// An eventfd in semaphore mode: one count per queued piece, read (blocking) by the thread.
        let ready: Int32

        init() throws(SystemError) {
            ready = eventfd(0, Int32(EFD_SEMAPHORE | EFD_CLOEXEC))
            guard ready >= 0 else { throw SystemError("eventfd") }
        }

        func push(_ body: (@Sendable () -> Void)?) {
            work.withLock { $0.append(body) }
            var one: UInt64 = 1
            while write(ready, &one, 8) < 0 && errno == EINTR {}
        }

        /// The thread's loop: runs each piece as it comes, ends at nil.
        func serve() {
            while true {
                var count: UInt64 = 0
                guard read(ready, &count, 8) == 8 else {
                    if errno == EINTR { continue }
                    return
                }
                let next = work.withLock { $0.removeFirst() }
                guard let body = next else { break }
                body()
            }
            close(ready)
        }
    }

    private let queue: Queue

    /// Starts the thread; it waits for `run`.
    public init() throws(SystemError) {
        let queue = try Queue()
        self.queue = queue
        let box = Unmanaged.passRetained(queue).toOpaque()
        var thread = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let rc = pthread_create(
            &thread, &attributes,
            { raw in
                Unmanaged<Queue>.fromOpaque(raw!).takeRetainedValue().serve()
                return nil
            }, box)
        guard rc == 0 else {
            Unmanaged<Queue>.fromOpaque(box).release()
            close(queue.ready)
            throw SystemError("start a thread", code: rc)
        }
    }

    /// The thread ends once the work queued before has run.
    deinit { queue.push(nil) }

    /// Runs `body` on the thread, after the work queued before it.
    public func run(_ body: @escaping @Sendable () -> Void) {
        queue.push(body)
    }

    /// Blocks until the work queued before has run.
    public func waitForQueued() throws(SystemError) {
        let done = try Wakeup()
        queue.push { done.signal() }
        var fd = pollfd(fd: done.descriptor, events: Int16(POLLIN), revents: 0)
        while poll(&fd, 1, -1) < 0 && errno == EINTR {}
    }
}
