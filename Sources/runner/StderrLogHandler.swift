import FoundationEssentials
import Logging
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// One line per message on stderr: `time level message key=value ...`, or a JSON object.
struct StderrLogHandler: LogHandler {
    let label: String
    let format: LogFormat
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let time = StderrLogHandler.timestamp()
        var line: String
        switch format {
        case .text, .journal:
            line = "\(time) \(event.level) \(event.message)"
            for key in all.keys.sorted() { line += " \(key)=\(all[key]!)" }
        case .json:
            var object: [String: String] = ["time": time, "level": "\(event.level)", "msg": "\(event.message)"]
            for (k, v) in all { object[k] = "\(v)" }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            line = (try? encoder.encode(object)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        }
        Output.err(FileName.display(line) + "\n")
    }

    /// UTC time with milliseconds, `2026-11-27T07:02:16.255Z`.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return WallClock.utc(seconds: ts.tv_sec, nanoseconds: ts.tv_nsec)
    }
}
