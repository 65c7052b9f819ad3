import FoundationEssentials

/// This process's memory as `/proc/self/status` says it.
public enum ProcessStatus {
    /// A field given in KiB (`RssAnon`, `RssFile`, `VmRSS`), or nil where there is none.
    public static func kib(_ field: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") })
        else { return nil }
        return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
    }
}
