import FoundationEssentials

extension ServiceFace {
    /// Shows `runner serve`'s daemon: its modules (as `modules()` has them now, after
    /// reloads), and what the sessions' reports tell.
    public func attach(_ daemon: ReceiverDaemon, modules: @escaping () -> [ReceiverModule]) {
        let tally = ReceiverTally()
        let version = self.version
        snapshot = { [unowned daemon] in
            var status = ServiceStatus(role: "receiver", version: version, at: Date().timeIntervalSince1970)
            status.connections = tally.connections
            status.sessions = daemon.sessionCount
            status.modules = modules().map { m in
                ServiceStatus.Module(
                    name: m.name, path: m.path, batches: tally.batches[m.name] ?? [:],
                    lastBatch: tally.last[m.name]?.batch, lastPeer: tally.last[m.name]?.peer)
            }
            return status
        }
        daemon.reports = { [metrics] report in
            metrics.record(report)
            tally.add(report)
        }
        daemon.companion = self
    }
}

/// What the sessions' reports add up to, per module.
private final class ReceiverTally {
    var connections: [String: Int] = [:]
    var batches: [String: [String: Int]] = [:]
    var last: [String: (batch: ServiceStatus.Result, peer: String)] = [:]

    func add(_ report: SessionReport) {
        if let fate = report.connection { connections[fate.rawValue, default: 0] += 1 }
        guard let module = report.module else { return }
        for b in report.batches { batches[module, default: [:]][b.result, default: 0] += 1 }
        if let b = report.batches.last {
            let result = ServiceStatus.Result(
                status: b.result, at: b.at, written: b.written, deleted: b.deleted, bytes: 0, message: nil,
                actions: b.actions.map { .init(name: $0.name, outcome: $0.outcome, summary: $0.summary) })
            last[module] = (result, report.peer)
        }
    }
}
