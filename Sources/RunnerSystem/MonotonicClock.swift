#if canImport(Glibc)
    import Glibc
#endif

/// Seconds on `CLOCK_MONOTONIC`, for deadlines and intervals (never wall time).
public enum MonotonicClock {
    /// Now, in seconds.
    public static var now: Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Seconds as logs show them: "5s", "0.5s".
    public static func text(seconds: Double) -> String {
        seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
    }
}
