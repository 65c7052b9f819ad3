extension ServiceMetrics: PipelineObserver {
    func delivered(_ result: DeliveryResult, pipeline: String, host: DeliveryHost, as outcome: TargetResult) {
        let labels = [("pipeline", pipeline), ("host", host.uri.description)]
        count("runner_batches_total", labels + [("result", outcome.status.rawValue)])
        observe("runner_apply_duration_seconds", labels, seconds: result.seconds)
        switch result.outcome {
        case .success(let done):
            count("runner_files_written_total", labels, by: done.written)
            count("runner_files_deleted_total", labels, by: done.deleted)
            count("runner_sent_bytes_total", labels, by: Int(done.bytes))
            count("runner_matched_bytes_total", labels, by: Int(done.matched))
        case .failure:
            count("runner_retries_total", labels)
        }
    }

    func batchCut(pipeline: String, paths: Int) { count("runner_batches_cut_total", [("pipeline", pipeline)]) }

    func watchTrouble(pipeline: String, kind: String) {
        count(kind == "overflow" ? "runner_watch_overflows_total" : "runner_rescans_total", [("pipeline", pipeline)])
    }

    func propagated(pipeline: String, seconds: Double) {
        observe("runner_propagation_seconds", [("pipeline", pipeline)], seconds: seconds)
    }

    /// The gauges, from the status about to be scraped.
    func update(from status: ServiceStatus) {
        if let sessions = status.sessions { update(sessions: sessions) }
        for p in status.pipelines {
            set("runner_revision", [("pipeline", p.name)], to: Double(p.revision))
            set("runner_watches", [("pipeline", p.name)], to: Double(p.watches))
            if let n = p.notify {
                set("runner_notify_queued", [("pipeline", p.name)], to: Double(n.queued))
                set("runner_notify_failures", [("pipeline", p.name)], to: Double(n.failures))
            }
            for g in p.groups where !g.name.isEmpty {
                let labels = [("pipeline", p.name), ("group", g.name)]
                set("runner_approved_revision", labels, to: Double(g.approved ?? 0))
                set("runner_group_waiting_seconds", labels, to: g.waitingFor ?? 0)
            }
            for h in p.groups.flatMap(\.hosts) {
                let labels = [("pipeline", p.name), ("host", h.uri)]
                set("runner_host_up", labels, to: h.state == "unreachable" ? 0 : 1)
                set("runner_pending_paths", labels, to: Double(h.pending))
                set("runner_applied_revision", labels, to: Double(h.applied ?? 0))
                set("runner_wanted_revision", labels, to: Double(h.revision))
            }
        }
    }
}
