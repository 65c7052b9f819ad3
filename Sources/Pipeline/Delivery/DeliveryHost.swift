import RunnerSystem

/// One target of a pipeline as the fleet serves it: its connection (`target`), the thread its
/// deliveries run on, and what its last delivery came back with, for the status and `after`.
/// What it should get, and when, is the rollout's (`HostState`).
final class DeliveryHost {
    let destination: PipelineConfig.Destination
    /// Used by one delivery at a time: only the worker running it touches it meanwhile.
    let target: any SyncTarget
    /// The last result, and the wall-clock time it came (and of the last time the host answered).
    var lastResult: TargetResult?
    var lastResultAt: Double?
    var lastSeen: Double?
    /// When (monotonic) its first delivery started, and whether one came back: READY waits
    /// for every host's first, a little.
    var firstStarted: Double?
    var attempted = false
    /// Since when (monotonic) it has not been at its group's approved revision; nil while it is.
    var behindSince: Double?
    /// Its deliveries' thread, started with the first.
    private var thread: WorkerThread?

    init(destination: PipelineConfig.Destination, target: any SyncTarget) {
        self.destination = destination
        self.target = target
    }

    var uri: TargetURI { destination.uri }

    /// The thread its deliveries run on.
    func worker() throws(SystemError) -> WorkerThread {
        if let thread { return thread }
        let started = try WorkerThread()
        thread = started
        return started
    }
}
