import RunnerSystem

/// One delivery: bring a host to a revision (plan the paths that differ against what it has,
/// and apply them as one batch), on the host's worker thread.
struct DeliveryJob: @unchecked Sendable {
    // @unchecked: `target`, `filter` and `tree` are used only by the worker that runs this
    // job; the run loop does not touch them while the host's delivery is under way, and takes
    // the host back only after the job posted its result. `filter` calls Lua predicates
    // through `MainThreadCalls`, so the Lua state stays on the loop's thread; `tree` reads
    // immutable objects of the content store through a cache of its own.
    let target: any SyncTarget
    let filter: Filter
    let tree: any SourceTree
    /// The paths that differ (nil: compare the whole tree), and moves among them (to → from).
    let paths: [String]?
    let moves: [String: String]
    /// Whether the host's tree is compared whole (what it has is unknown).
    let whole: Bool
    let delete: Bool
    /// The revision it brings the host to.
    let revision: Int
    /// The sender's term it was started in (0 without coordination).
    var term: UInt64 = 0
    let cancelled: @Sendable () -> Bool

    func run(host: Int) -> DeliveryResult {
        let started = MonotonicClock.now
        do {
            let outcome = try target.sync(
                paths: paths, moves: moves, source: tree, filter: filter, delete: delete, cancelled: cancelled)
            return DeliveryResult(
                host: host, revision: revision, term: term, whole: whole, outcome: .success(outcome),
                seconds: MonotonicClock.now - started)
        } catch {
            return DeliveryResult(
                host: host, revision: revision, term: term, whole: whole,
                outcome: .failure(.init("\(error)", lostSession: error is WireError)),
                seconds: MonotonicClock.now - started)
        }
    }
}

/// What a delivery came back with.
struct DeliveryResult: Sendable {
    /// Why a delivery failed; `lostSession`: the connection broke or timed out (the host
    /// is down, or hung), rather than the batch being refused.
    struct Failure: Error, Sendable {
        let message: String
        let lostSession: Bool
        init(_ message: String, lostSession: Bool) {
            self.message = message
            self.lostSession = lostSession
        }
    }

    let host: Int
    /// The revision it brought the host to, and whether the whole tree was compared.
    let revision: Int
    let term: UInt64
    let whole: Bool
    let outcome: Result<SyncOutcome, Failure>
    let seconds: Double
}
