/// Exponential backoff with jitter, per host (`retry = { initial = 1, max = 60 }`): the
/// n-th failure in a row waits `initial · 2^(n-1)` seconds, at most `max`, less up to a
/// fifth at random, so that hosts that failed together do not retry in step.
struct Backoff: Sendable, Equatable {
    let initial: Double
    let maximum: Double
    private(set) var failures = 0

    init(initial: Double, maximum: Double) {
        self.initial = initial
        self.maximum = max(initial, maximum)
    }

    /// Records a failure; returns the seconds to wait before the next attempt.
    mutating func failed() -> Double {
        failures += 1
        let base = min(maximum, initial * Double(1 << min(failures - 1, 30)))
        return base * Double.random(in: 0.8...1.0)
    }

    mutating func succeeded() { failures = 0 }
}
