import Dispatch
import RunnerSystem
import Synchronization

/// Calls that must run on the run loop's thread, made from worker threads: the Lua state
/// lives on one thread, so a worker that needs a Lua ignore predicate (planning a
/// delivery) hands the call to the loop and waits for its answer. The loop serves the
/// calls whenever `wakeup` is readable, and while it waits for workers itself.
public final class MainThreadCalls: Sendable {
    /// Readable while calls wait.
    public let wakeup: Wakeup
    private let queue = Mutex<[Call]>([])

    /// One call: the work, and where its answer goes.
    private final class Call: @unchecked Sendable {
        // @unchecked: `body` runs only on the loop's thread (in `serve`), and `answer` is
        // written there before `done` is signalled and read by the caller only after.
        let body: () -> Void
        let done = DispatchSemaphore(value: 0)
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    public init() throws(SystemError) {
        wakeup = try Wakeup()
    }

    /// Runs `body` on the loop's thread and returns its result (from a worker thread).
    func run<T>(_ body: @escaping () throws -> T) throws -> T {
        var answer: Result<T, any Error>?
        let call = Call { answer = Result { try body() } }
        queue.withLock { $0.append(call) }
        wakeup.signal()
        call.done.wait()
        return try answer!.get()
    }

    /// Runs the calls that wait (on the loop's thread).
    public func serve() {
        wakeup.drain()
        for call in queue.withLock({ calls in
            defer { calls.removeAll() }; return calls
        }) {
            call.body()
            call.done.signal()
        }
    }
}
