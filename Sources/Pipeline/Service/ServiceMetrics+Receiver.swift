extension ServiceMetrics {
    /// A record of a session of `runner serve` (or a connection turned away).
    public func record(_ report: SessionReport) {
        if let fate = report.connection { count("runner_receiver_connections_total", [("result", fate.rawValue)]) }
        guard let module = report.module else { return }
        for batch in report.batches {
            count("runner_receiver_batches_total", [("module", module), ("result", batch.result)])
            for action in batch.actions {
                count(
                    "runner_receiver_action_runs_total",
                    [("module", module), ("action", action.name), ("outcome", action.outcome)])
                if action.outcome != "skipped" {
                    observe(
                        "runner_receiver_action_duration_seconds", [("module", module), ("action", action.name)],
                        seconds: action.seconds)
                }
            }
        }
    }

    /// The daemon's gauges, just before a scrape.
    func update(sessions: Int) { set("runner_receiver_sessions", [], to: Double(sessions)) }
}
