import Logging
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

extension PipelineRunner {
    /// Starts watching the source (where `config.source` leads). Call before the initial sync,
    /// so that nothing changed during the sync can be missed.
    public func startWatching(now: Double = MonotonicClock.now) throws(WatchError) {
        // A standby watches from when it takes over (its start comparison covers what came before).
        guard isActive else { return }
        let filter = self.filter
        let singleFile = config.sourceFile != nil
        watcher = try InotifyWatcher(root: sourceRoot) { path in
            !singleFile && !((try? filter.isIgnored(path, isDirectory: true)) ?? false)
        }
        var metadata: Logger.Metadata = ["source": "\(sourceRoot)", "directories": "\(watcher!.watchCount)"]
        if sourceRoot != config.source { metadata["via"] = "\(config.source)" }
        logger.info("watching", metadata: metadata)
        reportUnwatched(now: now)
    }

    /// The watch limit was reached: say so once, with the fix, and scan what is unwatched.
    func reportUnwatched(now: Double) {
        guard let watcher, !watcher.unwatched.isEmpty else { return }
        if nextScan == nil { nextScan = now + config.scanInterval }
        guard !limitReported else { return }
        limitReported = true
        let limit =
            (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_user_watches", encoding: .utf8))?
            .split(whereSeparator: \.isWhitespace).first.map(String.init) ?? "?"
        let needed = watcher.directoriesInTree()
        let suggested = max(8192, (needed + watcher.watchCount) * 2)
        logger.error(
            """
            inotify watch limit reached (fs.inotify.max_user_watches = \(limit)): this tree needs \(needed) watches. \
            Raise it with: sysctl -w fs.inotify.max_user_watches=\(suggested) (persist it in /etc/sysctl.d/). \
            Until then \(watcher.unwatched.count) unwatched directories are scanned every \(config.scanInterval)s
            """)
    }

    /// At a stop: reads what inotify already queued, stops watching, and cuts everything
    /// seen into one batch now, files still open included (they go as they are).
    func stopWatching(now: Double) -> ChangeBatch? {
        while readEvents(now: now) > 0 {}
        watcher = nil
        for path in openWrites.settled(at: .infinity, info: { _ in nil }) { coalescer.add(path, .written, at: now) }
        if !retry.isEmpty { offerHeldAgain(at: now) }
        return coalescer.cutNow()
    }

    /// Reads pending watch events into the current batch; returns how many there were.
    @discardableResult
    public func readEvents(now: Double) -> Int {
        guard let watcher else { return 0 }
        let events: [WatchEvent]
        do { events = try watcher.read() } catch {
            logger.error("\(error)")
            coalescer.addRescan(at: now)
            return 0
        }
        for event in events {
            switch event.kind {
            case .overflow:
                logger.warning(
                    "inotify queue overflowed: rescanning the tree")
                observer?.watchTrouble(pipeline: config.name, kind: "overflow")
                openWrites.forgetAll()
                coalescer.addRescan(at: now)
            case .moved(let from):
                openWrites.forget(from)
                openWrites.forget(event.path)
                // A move out of what is synced (an editor's temp file renamed over its file)
                // is a write: the target never had the temp file.
                let fromSynced = !ignored(from, isDirectory: event.isDirectory, now: now)
                add(event.path, fromSynced ? .moved(from: from) : .written, isDirectory: event.isDirectory, now: now)
                if fromSynced { coalescer.add(from, .deleted, at: now) }
            case .created, .modified:
                // Possibly still being written: wait for close, or for it to stop changing.
                guard !ignored(event.path, isDirectory: false, now: now) else { continue }
                if event.kind == .created, let kind = FileInfo.lstat(FileSystem.join(sourceRoot, event.path))?.kind,
                    kind != .file
                {
                    // A symlink or special file is complete when it appears.
                    coalescer.add(event.path, .written, at: now)
                    continue
                }
                openWrites.wrote(event.path, at: now)
                coalescer.touch(at: now)
            case .written, .deleted, .attributes:
                if event.path.isEmpty && event.kind == .deleted {
                    // Gone, or moved away with another directory put in its place: looked at now.
                    source.checkAt = now
                    continue
                }
                if event.kind != .attributes { openWrites.forget(event.path) }
                let change: PathChange =
                    event.kind == .deleted ? .deleted : event.kind == .attributes ? .attributes : .written
                add(event.path, change, isDirectory: event.isDirectory, now: now)
            }
        }
        reportUnwatched(now: now)
        return events.count
    }

    func add(_ path: String, _ change: PathChange, isDirectory: Bool, now: Double) {
        if !ignored(path, isDirectory: isDirectory, now: now) { coalescer.add(path, change, at: now) }
    }

    /// Whether the filter drops a path, decided once per batch (recorded for `--dry-run`).
    /// A failing predicate must not lose a change: it is logged and the path is kept.
    func ignored(_ path: String, isDirectory: Bool, now: Double) -> Bool {
        if let only = config.sourceFile { return path != only }
        let key = isDirectory ? path + "/" : path
        if let known = decided[key] { return known }
        var ignore = false
        do {
            let decision = try filter.decide(path, isDirectory: isDirectory)
            if decision.ignored {
                logger.trace(
                    "ignored",
                    metadata: ["path": "\(path)", "why": "\(decision.explanation)"])
                coalescer.addIgnored(path, reason: decision.explanation, at: now, startsBatch: dryRun)
                ignore = true
            }
        } catch {
            logger.error("ignore rule failed for \(path): \(error)")
        }
        decided[key] = ignore
        return ignore
    }
}
