import Logging
import RunnerSystem

extension PipelineRunner {
    /// A stop (SIGTERM, SIGINT): stops watching, cuts what the watch already saw, and brings
    /// every host that answers to its revision (backoffs cut short; a host known to be down
    /// is not waited for), until all are there or `deadline`; then logs who stayed behind,
    /// and where, and ends the sessions.
    public func flush(control: RunControl, until deadline: Double) {
        // The lead goes with the process, at once: the standby need not wait out the lease.
        defer { lead?.loop.stop(resign: true) }
        guard isActive else { return }
        if let batch = stopWatching(now: MonotonicClock.now) { process(batch, control: control) }
        handle(.expedite, control: control)
        // A second stop signal abandons the flush (`isStopRequested` reads the signals).
        while MonotonicClock.now < deadline, !(control.isStopRequested && control.isAbandoned) {
            let now = MonotonicClock.now
            let due = rollout.hosts.indices.contains { h in
                rollout.hosts[h].reachable != false && rollout.hosts[h].sending == nil && !rollout.hosts[h].givenUp
                    && rollout.wants(h)
            }
            guard fleet.running > 0 || due else { break }
            waitForWork(control: control, until: min(deadline, rollout.deadline ?? deadline))
            serviceWakeups(now: now, control: control)
            handle(.tick, control: control)
        }
        if fleet.running > 0 {
            // Past the deadline: the deliveries under way leave their batch uncommitted.
            control.abandon()
        }
        finish(control: control, timeout: 5)
        // A host whose group may have nothing yet (its first revision waits for approval) is not behind.
        let behind = rollout.hosts.indices.filter { h in
            rollout.desired(h) > 0 && rollout.hosts[h].applied != rollout.desired(h)
        }
        if behind.isEmpty {
            logger.notice("stopped with every host up to date")
        } else {
            let list = behind.map { h in
                "\(rollout.hosts[h].uri) (at \(rollout.hosts[h].applied.map { "revision \($0)" } ?? "an unknown revision"), should be at \(rollout.desired(h)))"
            }
            logger.warning(
                "stopped with \(behind.count) host(s) not up to date, sent at the next start: \(list.joined(separator: ", "))"
            )
        }
    }
}
