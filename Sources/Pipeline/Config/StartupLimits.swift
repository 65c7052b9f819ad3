/// How many connections that have not authenticated a receiver keeps, as sshd's
/// `MaxStartups start:rate:full` and `PerSourceMaxStartups` say: past `start` a new one is
/// dropped at random, `rate` percent at `start` rising to all at `full`; one address holds
/// at most `perAddress`.
public struct StartupLimits: Sendable, Equatable {
    public var start = 10
    public var rate = 30
    public var full = 100
    public var perAddress = 10

    public init() {}

    /// `"10:30:100"`, or `"N"` (no random drop: N at most); nil for anything else
    /// (start ≤ full, rate 1..100, all ≥ 1).
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.allSatisfy({ ($0 ?? 0) >= 1 }) else { return nil }
        switch parts.count {
        case 1: (start, rate, full) = (parts[0]!, 100, parts[0]!)
        case 3: (start, rate, full) = (parts[0]!, parts[1]!, parts[2]!)
        default: return nil
        }
        guard start <= full, rate <= 100 else { return nil }
    }
}
