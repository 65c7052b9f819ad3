import Logging
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

extension ReceiverDaemon {
    /// When the next dial is due, if a module waits to dial.
    var nextDial: Double? { dialers.values.filter { $0.pid == nil }.map(\.schedule.due).min() }

    /// Starts the dials that are due, each in a child process that dials, proves the name's
    /// secret, and serves the session as an accepted one is served (`dial`); forgets the
    /// modules that no longer dial (a reload).
    func dialDue(
        _ upstreams: [String: ReceiverModule.Upstream], control: RunControl,
        refresh: (_ reloadRequested: Bool) -> String?,
        dial: (_ module: String, _ upstream: ReceiverModule.Upstream, _ report: SessionReport) -> Int32
    ) {
        let now = MonotonicClock.now
        for module in dialers.keys where upstreams[module] == nil && dialers[module]?.pid == nil {
            dialers[module] = nil
        }
        for (module, upstream) in upstreams.sorted(by: { $0.key < $1.key }) {
            var dialer = dialers[module] ?? (DialSchedule(now: now), nil)
            defer { dialers[module] = dialer }
            guard dialer.pid == nil, dialer.schedule.due <= now, !control.isStopRequested else { continue }
            _ = refresh(false)
            logger.debug("dialing \(upstream.url) as \(upstream.name)", metadata: ["module": "\(module)"])
            dialer.pid = fork(peer: "\(upstream.url)", control: control) { report in dial(module, upstream, report) }
            if dialer.pid == nil {
                dialer.schedule.ended(.failed, now: now, draw: Double.random(in: 0..<1))
            }
        }
    }

    /// A dial's process ended: its outcome sets when the module dials next, and a failure is
    /// said with that time. Returns whether `pid` was a dial's.
    func dialEnded(_ pid: pid_t, status: Int32) -> Bool {
        guard let (module, dialer) = dialers.first(where: { $0.value.pid == pid }) else { return false }
        let exited = status & 0x7f == 0
        let outcome = exited ? DialSchedule.outcome(status: (status >> 8) & 0xff) : .failed
        var schedule = dialer.schedule
        let wait = schedule.ended(outcome, now: MonotonicClock.now, draw: Double.random(in: 0..<1))
        dialers[module] = (schedule, nil)
        // One ended by a signal is one the daemon stopped (or a crash, reported as a session's).
        if outcome != .served, exited {
            logger.warning(
                "module '\(module)': dialing again in \(MonotonicClock.text(seconds: (wait * 10).rounded() / 10))",
                metadata: ["module": "\(module)"])
        }
        return true
    }
}
