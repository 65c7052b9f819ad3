/// Refusals said once per interval, with their count, instead of a line each: a flood of
/// connections must not become a flood of log lines. The first refusal of a quiet spell is
/// said at once; the rest are summed and said when the interval ends. A value given the
/// time.
struct RefusalTally: Sendable, Equatable {
    let interval: Double
    private var counts: [String: Int] = [:]
    private var addresses: [String: Int] = [:]
    /// When the summing interval ends (nil: none runs; the next refusal is said at once).
    private(set) var due: Double?

    init(interval: Double = 10) { self.interval = interval }

    /// Counts a refusal of `reason` for `address` at `now`; returns a line to log now, if any.
    mutating func refused(_ reason: String, address: String, now: Double) -> String? {
        if let line = flush(now: now) {
            // A spell ended unsaid: said now, and this one opens the next.
            count(reason, address)
            due = now + interval
            return line
        }
        guard due != nil else {
            due = now + interval
            return
                "refused a connection from \(address): \(reason) (more are counted, and said every \(Int(interval)) s)"
        }
        count(reason, address)
        return nil
    }

    /// The summary of the interval that ended by `now`, if it held refusals.
    mutating func flush(now: Double) -> String? {
        guard let at = due, now >= at else { return nil }
        due = nil
        guard !counts.isEmpty else { return nil }
        defer { (counts, addresses) = ([:], [:]) }
        let total = counts.values.reduce(0, +)
        let reasons = counts.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        let top = addresses.max { $0.value < $1.value }.map { " (most from \($0.key): \($0.value))" } ?? ""
        due = at + interval
        return "refused \(total) more connection(s) in \(Int(interval)) s: \(reasons)\(top)"
    }

    private mutating func count(_ reason: String, _ address: String) {
        counts[reason, default: 0] += 1
        // Bounded: a flood from many addresses keeps the first thousand.
        if addresses[address] != nil || addresses.count < 1000 { addresses[address, default: 0] += 1 }
    }
}
