import RunnerSystem

/// Files written without a close yet (`IN_MODIFY`, `IN_CREATE`): each goes into a batch
/// once it closes, or once its size and mtime held still for `settle` seconds (for a
/// writer that never stops, every `maxDelay`).
struct OpenWrites {
    /// Last size and mtime seen, first and last event time.
    private var files: [String: (stamp: FileInfo?, since: Double, lastEvent: Double)] = [:]
    let settle: Double
    let maxDelay: Double

    init(settle: Double, maxDelay: Double) {
        self.settle = settle
        self.maxDelay = maxDelay
    }

    /// A write event on `path`.
    mutating func wrote(_ path: String, at now: Double) {
        files[path] = (nil, files[path]?.since ?? now, now)
    }

    /// The file closed, went away, or everything is rescanned: no need to wait for it.
    mutating func forget(_ path: String) { files[path] = nil }

    mutating func forgetAll() { files.removeAll() }

    /// When the next file may have settled.
    var deadline: Double? { files.values.map { $0.lastEvent + settle }.min() }

    /// The files that settled by `now` (`info` looks a path up in the source).
    mutating func settled(at now: Double, info: (String) -> FileInfo?) -> [String] {
        var done: [String] = []
        for (path, w) in files where now - w.lastEvent >= settle {
            let stamp = info(path)
            let stable = stamp == nil || (w.stamp.map { stamp!.sameContent(as: $0) } ?? false)
            if stable || now - w.since >= maxDelay {
                files[path] = nil
                done.append(path)
            } else {
                files[path] = (stamp, w.since, now)
            }
        }
        return done
    }
}
