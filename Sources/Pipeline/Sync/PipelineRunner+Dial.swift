import RunnerSystem

extension PipelineRunner {
    /// Hosts that dialed in: each gets its session opened on its worker (the receiver waits
    /// for the hello, and ends a connection that stays silent), and the rollout serves it
    /// now: one that was away is compared whole.
    func dialedIn(_ arrived: [(target: TargetURI, once: Bool)], control: RunControl) {
        guard !arrived.isEmpty else { return }
        var hosts: [Int] = []
        for (target, once) in arrived {
            guard let h = fleet.hosts.firstIndex(where: { $0.uri == target }) else { continue }
            hosts.append(h)
            if once { dialedOnce.insert(h) } else { dialedOnce.remove(h) }
            onWorker(h) { try? $0.open() }
        }
        handle(hosts.map { .dialed(host: $0) }, control: control)
        settleDialedOnce()
    }

    /// Hosts that dialed once and have settled: at the revision they should have (the
    /// session ends, and `runner pull --once` exits 0), or failed or refused it (it ends
    /// with the reason, and the pull exits 1).
    func settleDialedOnce() {
        for h in dialedOnce where rollout.hosts[h].sending == nil {
            let host = rollout.hosts[h], desired = rollout.desired(h)
            let failure: String?
            if host.applied == desired {
                failure = nil
            } else if let why = host.refusal ?? host.lastError {
                failure = "revision \(desired) did not apply: \(why)"
            } else {
                continue
            }
            dialedOnce.remove(h)
            onWorker(h) { $0.end(failure: failure) }
        }
    }

    /// Runs `body` with host `h`'s target on the host's worker, after what it runs now.
    private func onWorker(_ h: Int, _ body: @escaping @Sendable (RemoteTarget) -> Void) {
        guard let target = fleet.hosts[h].target as? RemoteTarget, let worker = try? fleet.hosts[h].worker() else {
            return
        }
        // Unchecked: a target is used only on its host's worker thread, which runs one thing
        // at a time (`DeliveryJob`); this runs there, before or after a delivery, never beside.
        nonisolated(unsafe) let confined = target
        worker.run { body(confined) }
    }
}
