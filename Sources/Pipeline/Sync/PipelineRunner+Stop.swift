import Logging
import RunnerSystem

extension PipelineRunner {
    /// A stop (SIGTERM, SIGINT): stops watching, sends what the watch already saw and
    /// what is pending to every host that is up (backoffs are cut short; a host known to be
    /// down is not waited for), until all is sent or `deadline`; then logs what stayed
    /// behind, with its count, and ends the sessions.
    public func flush(control: RunControl, until deadline: Double) {
        if let batch = stopWatching(now: MonotonicClock.now) {
            _ = process(batch, initial: false, control: control)
        }
        for host in fleet.hosts where host.reachable != false { host.notBefore = nil }
        // A second stop signal abandons the flush (`isStopRequested` reads the signals).
        while MonotonicClock.now < deadline, !(control.isStopRequested && control.isAbandoned) {
            let now = MonotonicClock.now
            rolloutDue(now: now)
            pump(now: now, control: control)
            let due = fleet.hosts.contains { $0.reachable != false && $0.isDue(at: now) }
            guard fleet.running > 0 || due || rolloutDeadline.map({ $0 < deadline }) == true else { break }
            waitForWork(control: control, until: min(deadline, rolloutDeadline ?? deadline))
            for result in fleet.takeResults() { _ = handle(result, now: MonotonicClock.now, control: control) }
        }
        if fleet.running > 0 {
            // Past the deadline: the deliveries under way leave their batch uncommitted.
            control.abandon()
            finish(control: control, timeout: 5)
        }
        let behind = fleet.hosts.filter { !$0.pending.isEmpty || $0.busy }
        if behind.isEmpty {
            logger.notice("stopped with every host up to date", metadata: ["pipeline": "\(config.name)"])
        } else {
            let list = behind.map { h in
                "\(h.uri) (\(h.pending.fullResync ? "a full resync" : "\(h.pending.changes.count) path(s)"))"
            }
            logger.warning(
                "stopped with \(behind.count) host(s) not up to date, sent at the next start: \(list.joined(separator: ", "))",
                metadata: ["pipeline": "\(config.name)"])
        }
        saveState()
        disconnect()
    }
}
