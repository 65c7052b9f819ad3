#if canImport(Glibc)
    import Glibc
#endif

/// Wall-clock time as people and logs read it: UTC, ISO 8601 (strftime: Foundation's
/// formatter is slow, and links ICU).
public enum WallClock {
    /// `2026-11-27T07:02:16Z`, or with `milliseconds` taken from `nanoseconds`,
    /// `2026-11-27T07:02:16.255Z`.
    public static func utc(seconds: Int, nanoseconds: Int? = nil) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        var buf = [CChar](repeating: 0, count: 32)
        let n = strftime(&buf, buf.count, "%Y-%m-%dT%H:%M:%S", &parts)
        let text = String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let nanoseconds else { return text + "Z" }
        return text + "." + String(1000 + nanoseconds / 1_000_000).dropFirst() + "Z"
    }
}
