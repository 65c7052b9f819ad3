import Prometheus

/// The service's Prometheus metrics (swift-prometheus; `/metrics`, or a file for
/// node-exporter's textfile collector). Counters and histograms are fed as things happen
/// (`+Sender`, `+Receiver`); gauges are set from the status just before each scrape.
/// Names follow Prometheus's conventions: `runner_` prefix, base units, `_total`, `_seconds`.
public final class ServiceMetrics {
    let registry = PrometheusCollectorRegistry()

    /// Every metric's help text: one per name, as the registry requires.
    static let help: [String: String] = [
        "runner_batches_total": "Deliveries to a host, by result (applied, unchanged, failed, rolled_back, held).",
        "runner_files_written_total": "Files and links written on a host.",
        "runner_files_deleted_total": "Paths deleted on a host.",
        "runner_sent_bytes_total": "Bytes of deltas sent to a host.",
        "runner_matched_bytes_total": "Bytes of new content a host's delta took from its own copies.",
        "runner_retries_total": "Failed deliveries that scheduled a retry.",
        "runner_apply_duration_seconds": "Seconds from a delivery's start to the host's result.",
        "runner_propagation_seconds": "Seconds from a revision's first event to the last host applying it.",
        "runner_batches_cut_total": "Batches cut from the watch.",
        "runner_watch_overflows_total": "inotify queue overflows (each followed by a rescan).",
        "runner_rescans_total": "Comparisons of the whole tree (overflow, watch limit, first sync).",
        "runner_config_reloads_total": "Configuration reloads (SIGHUP), by result (ok, refused).",
        "runner_host_up": "1 when the host answered its last delivery.",
        "runner_pending_paths": "Paths waiting for a host.",
        "runner_applied_revision": "The last revision a host applied (0: unknown, it is compared whole next).",
        "runner_wanted_revision": "The revision a host should have: its group's approved one, a canary's candidate.",
        "runner_revision": "The source's last revision.",
        "runner_approved_revision": "The last revision a group approved (its canaries applied it).",
        "runner_group_waiting_seconds": "Seconds a group's candidate has waited for its canaries (0: none waits).",
        "runner_watches": "Directories watched.",
        "runner_notify_queued": "Notifications waiting for the webhook.",
        "runner_notify_failures": "Webhook POSTs that failed since start (each attempt), and notifications dropped.",
        "runner_receiver_connections_total":
            "Connections to the receiver, by result (accepted, busy, denied, auth_failed, failed, probe).",
        "runner_receiver_batches_total": "Batches a module received, by result.",
        "runner_receiver_action_runs_total": "Post-sync action runs, by outcome.",
        "runner_receiver_action_duration_seconds": "Seconds a post-sync action ran.",
        "runner_receiver_sessions": "Sessions running now.",
    ]

    static let secondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    public init() {}

    /// A metric's name and help, as the registry takes them (the names are whole already).
    private static func descriptor(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help[name]!)
    }

    func count(_ name: String, _ labels: [(String, String)], by amount: Int = 1) {
        guard amount > 0 else { return }
        registry.makeCounter(descriptor: Self.descriptor(name), labels: labels).increment(by: Int64(amount))
    }

    func set(_ name: String, _ labels: [(String, String)], to value: Double) {
        registry.makeGauge(descriptor: Self.descriptor(name), labels: labels).set(value)
    }

    func observe(_ name: String, _ labels: [(String, String)], seconds: Double) {
        registry.makeValueHistogram(descriptor: Self.descriptor(name), labels: labels, buckets: Self.secondsBuckets)
            .record(seconds)
    }

    /// A configuration reload ended.
    public func reloaded(refused: Bool) {
        count("runner_config_reloads_total", [("result", refused ? "refused" : "ok")])
    }

    /// The text exposition format.
    public func text() -> String { registry.emitToString() }
}
