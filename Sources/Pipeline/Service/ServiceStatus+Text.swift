import FoundationEssentials

extension ServiceStatus {
    /// systemd's one-line STATUS=: "3 hosts current, 1 behind: runner://… connection
    /// refused, retry in 8 s"; a receiver's, its modules and sessions.
    public var line: String {
        if role == "receiver" {
            let batches = modules.reduce(0) { $0 + $1.batches.values.reduce(0, +) }
            return "serving \(modules.count) module(s), \(sessions ?? 0) session(s) now, \(batches) batch(es) so far"
        }
        let all = hosts
        let current = all.filter { $0.state == "current" }.count
        var text = "\(current) host\(current == 1 ? "" : "s") current"
        let others = all.filter { $0.state != "current" }
        if !others.isEmpty {
            text += ", \(others.count) not"
            if let worst = others.first(where: { $0.state != "sending" }) ?? others.first {
                text += ": \(worst.uri) \(worst.state)"
                if let error = worst.lastError { text += ": \(error)" }
                if let retry = worst.nextRetry { text += ", retry in \(Int(retry.rounded(.up))) s" }
            }
        }
        for p in pipelines { for g in p.groups where g.held != nil { text += "; group \(g.name) \(g.held!)" } }
        return text
    }

    /// The JSON of `/status` (keys sorted, so it diffs well).
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return ((try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}") + "\n"
    }

    /// Reads `/status`'s JSON back.
    public static func decode(_ text: [UInt8]) throws -> ServiceStatus {
        try JSONDecoder().decode(ServiceStatus.self, from: Data(text))
    }

    /// The table `runner status` prints: one row per host (sender) or module (receiver).
    public var table: String {
        var rows: [[String]] = []
        if role == "receiver" {
            rows.append(["MODULE", "PATH", "BATCHES", "LAST", "ACTIONS"])
            for m in modules {
                let counts = m.batches.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
                    separator: ", ")
                rows.append([
                    m.name, m.path, counts.isEmpty ? "-" : counts, m.lastBatch?.status ?? "-",
                    m.lastBatch.map(Self.actionText) ?? "",
                ])
            }
        } else {
            rows.append(["PIPELINE", "GROUP", "HOST", "STATE", "APPLIED", "PENDING", "LAST"])
            for p in pipelines {
                for g in p.groups {
                    for h in g.hosts {
                        let last = h.lastError ?? h.lastResult.map(Self.actionText) ?? "-"
                        rows.append([
                            p.name, g.name.isEmpty ? "-" : g.name, h.uri, h.state,
                            "\(h.applied.map(String.init) ?? "?")/\(h.revision)",
                            h.fullResync ? "all" : "\(h.pending)", last,
                        ])
                    }
                }
            }
        }
        let widths = rows[0].indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
        var text =
            rows.map { row in
                row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(widths[i]) }
                    .joined(separator: "  ")
            }.joined(separator: "\n") + "\n"
        for p in pipelines {
            if let lead = p.lead { text += "pipeline \(p.name): \(lead.text)\n" }
            for g in p.groups where g.held != nil { text += "group \(g.name): \(g.held!)\n" }
            for g in p.groups where g.approval != nil { text += "group \(g.name): \(g.approval!.text)\n" }
        }
        for problem in problems { text += "unhealthy: \(problem)\n" }
        return text
    }

    /// A result's actions as one line: "applied; php-fpm reload: reloaded".
    static func actionText(_ r: Result) -> String {
        ([r.status] + r.actions.map { "\($0.name): \($0.summary)" }).joined(separator: "; ")
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}
