import FoundationEssentials

/// The page at `/`: what a person on a bad day reads. One table per group, a badge per
/// host, its last result and action lines, a banner over a held or halted group. Rendered
/// on the server from the status, no script and no external asset; it reloads itself.
enum StatusPage {
    static func html(_ status: ServiceStatus) -> String {
        let when = Date(timeIntervalSince1970: status.at).formatted(.iso8601)
        var body = "<h1>runner \(escape(status.role)) <small>\(escape(status.version)) · \(when)</small></h1>\n"
        body += "<p class=summary>\(escape(status.line))</p>\n"
        for problem in status.problems { body += "<div class='banner bad'>unhealthy: \(escape(problem))</div>\n" }
        for p in status.pipelines {
            body +=
                "<h2>pipeline \(escape(p.name)) <small>\(escape(p.source)) · revision \(p.revision) · \(p.watches) \(p.watches == 1 ? "directory" : "directories") watched</small></h2>\n"
            if let lead = p.lead { body += "<p class=summary>\(escape(lead.text))</p>\n" }
            for g in p.groups {
                body += "<h3>\(g.name.isEmpty ? "hosts" : "group " + escape(g.name))"
                if let approved = g.approved { body += " <small>approved revision \(approved)</small>" }
                body += "</h3>\n"
                if let held = g.held { body += "<div class='banner held'>\(escape(held))</div>\n" }
                if let approval = g.approval {
                    body += "<div class='banner waiting'>\(escape(approval.text))</div>\n"
                }
                body +=
                    "<table><tr><th>host</th><th>state</th><th>applied</th><th>pending</th><th>last seen</th><th>last result</th></tr>\n"
                for h in g.hosts {
                    var last =
                        h.lastResult.map { r in
                            escape(r.status)
                                + r.actions.map { "<div class=action>\(escape($0.name)): \(escape($0.summary))</div>" }
                                .joined()
                        } ?? "-"
                    if let error = h.lastError { last += "<div class=error>\(escape(error))</div>" }
                    if let retry = h.nextRetry, h.state != "current" {
                        last += "<div>retry in \(Int(retry.rounded(.up))) s</div>"
                    }
                    let seen = h.lastSeen.map { Date(timeIntervalSince1970: $0).formatted(.iso8601) } ?? "never"
                    body +=
                        "<tr><td class=host>\(escape(h.uri))</td><td><span class='badge \(h.state)'>\(h.state)</span></td>"
                    body +=
                        "<td>\(h.applied.map(String.init) ?? "?")\(h.applied == h.revision ? "" : " → \(h.revision)")</td><td>\(h.fullResync ? "all" : "\(h.pending)")</td><td class=when>\(seen)</td><td>\(last)</td></tr>\n"
                }
                body += "</table>\n"
            }
        }
        if status.role == "receiver" {
            let counts = status.connections.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
                separator: ", ")
            body +=
                "<p>connections: \(counts.isEmpty ? "none yet" : escape(counts)); sessions now: \(status.sessions ?? 0)</p>\n"
            body += "<table><tr><th>module</th><th>path</th><th>batches</th><th>last batch</th><th>from</th></tr>\n"
            for m in status.modules {
                let counts = m.batches.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
                    separator: ", ")
                let last =
                    m.lastBatch.map { r in
                        "<span class='badge \(r.status)'>\(escape(r.status))</span>"
                            + r.actions.map { "<div class=action>\(escape($0.name)): \(escape($0.summary))</div>" }
                            .joined()
                    } ?? "-"
                body +=
                    "<tr><td class=host>\(escape(m.name))</td><td>\(escape(m.path))</td><td>\(escape(counts))</td><td>\(last)</td><td>\(escape(m.lastPeer ?? "-"))</td></tr>\n"
            }
            body += "</table>\n"
        }
        return """
            <!doctype html>
            <html lang=en><head><meta charset=utf-8><meta http-equiv=refresh content=5>
            <title>runner \(escape(status.role)): \(escape(status.line))</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
            small{color:#666;font-weight:normal}
            table{border-collapse:collapse;margin:.5em 0 1.5em}
            th,td{border-bottom:1px solid #ddd;padding:.3em .8em;text-align:left;vertical-align:top}
            .host{font-family:monospace}.when{white-space:nowrap}
            .badge{border-radius:.7em;padding:.1em .6em;color:#fff;background:#888}
            .current,.applied,.unchanged{background:#2a7d2a}.sending,.behind{background:#b08000}
            .backoff,.unreachable,.failed,.rolled_back{background:#b02020}.held{background:#7a3fb0}
            .banner{padding:.5em 1em;margin:.5em 0;color:#fff}.banner.held{background:#7a3fb0}.banner.waiting{background:#a06000}.banner.bad{background:#b02020}
            .action{color:#444;font-family:monospace}.error{color:#b02020}
            </style></head><body>
            \(body)</body></html>

            """
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
