import Synchronization

/// Set once a pipeline gives up on its deliveries under way (a reload or a stop that could
/// not wait): each checks it before its commit, and commits nothing after.
final class Cancellation: Sendable {
    private let flag = Atomic<Bool>(false)

    func cancel() { flag.store(true, ordering: .relaxed) }

    var isCancelled: Bool { flag.load(ordering: .relaxed) }
}
