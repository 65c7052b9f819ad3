import RunnerSystem

/// One target of a pipeline as the fleet serves it: what it has not received yet, whether
/// a delivery to it is under way, when it may be tried again, and whether it answered
/// last time (so that going down, and coming back, are logged once each).
final class DeliveryHost {
    let destination: PipelineConfig.Destination
    /// Used by one delivery at a time: only the worker running it touches it meanwhile.
    let target: any SyncTarget
    /// What it is sent from: the source (or its group's snapshot), with its rendered
    /// templates over it.
    var source: SourceTree
    /// Its rendered templates, when the pipeline renders.
    let render: RenderCache?
    var pending = PendingChanges()
    var backoff: Backoff
    /// A delivery is under way.
    var busy = false
    /// Held by its group's roll-out (halted): what it has pending waits for the next revision.
    var paused = false
    /// Not before then (a backoff after a failure); nil: now.
    var notBefore: Double?
    /// Whether the last attempt reached the host; nil before the first.
    var reachable: Bool?
    /// The last batch number it applied.
    var applied = 0
    /// The last result, for the status and for `after`.
    var lastResult: TargetResult?
    /// Wall-clock time of the last result, and of the last time the host answered.
    var lastResultAt: Double?
    var lastSeen: Double?
    /// Why the last attempt failed, until one succeeds.
    var lastError: String?
    /// Its first delivery has come back (applied or failed), and when (monotonic) that
    /// delivery started: READY waits for every host's, a little.
    var attempted = false
    var firstStarted: Double?
    /// Since when (monotonic) it has been behind; nil while current.
    var behindSince: Double?
    /// Its deliveries' thread, started with the first.
    private var thread: WorkerThread?

    init(
        destination: PipelineConfig.Destination, target: any SyncTarget, source: SourceTree, render: RenderCache?,
        backoff: Backoff
    ) {
        self.destination = destination
        self.target = target
        self.source = source
        self.render = render
        self.backoff = backoff
    }

    var uri: TargetURI { destination.uri }

    /// The thread its deliveries run on.
    func worker() throws(SystemError) -> WorkerThread {
        if let thread { return thread }
        let started = try WorkerThread()
        thread = started
        return started
    }

    /// Nothing pending, nothing under way, nothing held back from it.
    var isCurrent: Bool { pending.isEmpty && !busy && !paused && (render?.held.isEmpty ?? true) }

    /// Whether a delivery may start now.
    func isDue(at now: Double) -> Bool {
        !busy && !paused && !pending.isEmpty && (notBefore.map { now >= $0 } ?? true)
    }
}
