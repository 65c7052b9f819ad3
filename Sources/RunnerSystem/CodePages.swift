import CLinux
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// The pages of code and constants a long-lived process touched while it started.
///
/// Starting runs a lot that never runs again: argument parsing, the Lua script and its
/// schema checks, the first scan. Their code pages stay mapped (and counted in RSS) for
/// as long as the process lives. Once up, a daemon gives them back; what it still runs is
/// mapped again from the page cache on first use (a minor fault, no I/O).
public enum CodePages {
    /// Unmaps the read-only, private file mappings of the executable and its shared
    /// libraries that hold no page of their own. Those never change while the process
    /// lives (nothing here unloads a library or maps other files), so the mapping read
    /// from `/proc/self/smaps` is still the one advised. Writable mappings, and read-only
    /// ones holding private pages (relocated data made read-only), are left alone: their
    /// pages are not the file's. Returns the bytes advised.
    @discardableResult
    public static func releaseStartup() -> Int {
        guard let smaps = try? String(contentsOfFile: "/proc/self/smaps", encoding: .utf8) else { return 0 }
        let executable = FileSystem.readLink("/proc/self/exe")
        var released = 0
        var candidate: UnsafeMutableRawBufferPointer?
        func advise() {
            if let range = candidate, madvise(range.baseAddress, range.count, MADV_DONTNEED) == 0 {
                released += range.count
            }
            candidate = nil
        }
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            if first == "Anonymous:" {
                if fields.count < 2 || fields[1] != "0" { candidate = nil }
                continue
            }
            guard !first.hasSuffix(":") else { continue }
            // A mapping's header: "start-end perms offset device inode path".
            advise()
            let bounds = first.split(separator: "-")
            guard fields.count >= 6, bounds.count == 2, let start = UInt(bounds[0], radix: 16),
                let end = UInt(bounds[1], radix: 16), end > start
            else { continue }
            let path = fields[5...].joined(separator: " ")
            let image = path == executable || path.hasPrefix("/") && path.contains(".so")
            guard fields[1] == "r--p" || fields[1] == "r-xp", image else { continue }
            candidate = UnsafeMutableRawBufferPointer(
                start: UnsafeMutableRawPointer(bitPattern: start), count: Int(end - start))
        }
        advise()
        return released
    }
}
