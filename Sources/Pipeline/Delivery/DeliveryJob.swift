import RunnerSystem

/// One delivery: plan a batch against a host and apply it, on a worker thread.
struct DeliveryJob: @unchecked Sendable {
    // @unchecked: `target` and `filter` are used only by the worker that runs this job;
    // the run loop does not touch them while the host is busy (`DeliveryHost.busy`), and
    // takes the host back only after the job posted its result. `filter` calls Lua
    // predicates through `MainThreadCalls`, so the Lua state stays on the loop's thread.
    let target: any SyncTarget
    let filter: Filter
    let source: SourceTree
    let fullSyncPaths: [String]?
    let delete: Bool
    /// The last batch number the delivery brings the host up to.
    let revision: Int
    let cancelled: @Sendable () -> Bool

    func run(host: Int, batch: ChangeBatch) -> DeliveryResult {
        let started = MonotonicClock.now
        do {
            let outcome = try target.sync(
                paths: batch.fullRescan ? fullSyncPaths : batch.paths, moves: batch.fullRescan ? [:] : batch.moves,
                source: source, filter: filter, delete: delete, cancelled: cancelled)
            return DeliveryResult(
                host: host, batch: batch, revision: revision, outcome: .success(outcome),
                seconds: MonotonicClock.now - started)
        } catch {
            return DeliveryResult(
                host: host, batch: batch, revision: revision,
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
    let batch: ChangeBatch
    /// The last batch number this delivery brings the host up to.
    let revision: Int
    let outcome: Result<SyncOutcome, Failure>
    let seconds: Double
}
