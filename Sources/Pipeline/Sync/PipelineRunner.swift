#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import Logging
import RunnerSystem

/// Runs one pipeline: watch the source, filter, coalesce into batches, and bring
/// every target up to date with each batch. Single-threaded: the run loop drives it.
public final class PipelineRunner {
    /// The pipeline's configuration.
    public let config: PipelineConfig
    /// The pipeline's filter.
    public let filter: Filter
    private let hooks: (any PipelineHooks)?
    private let logger: Logger
    private let dryRun: Bool
    private let print: (String) -> Void
    private var watcher: InotifyWatcher?
    private var coalescer: Coalescer
    private let targets: [(destination: PipelineConfig.Destination, target: Target)]

    /// Where a destination's batches go.
    private enum Target {
        case local(LocalTarget)
        case remote(RemoteTarget)
    }
    private var batchNumber = 0
    /// Paths to try again (a failed target, a file that changed while read, a held batch).
    private var retry = Set<String>()
    private var retryFullRescan = false
    private var retryAt: Double?
    private var retryBackoff = 1.0
    /// Files written but not closed yet: last stat seen, first and last event time.
    private var openWrites: [String: (stamp: FileInfo?, since: Double, lastEvent: Double)] = [:]
    /// When the directories the watch limit left unwatched are scanned next.
    private var nextScan: Double?
    private var limitReported = false

    /// A runner. A bad `secret_file` is a `ConfigError`; a local target whose
    /// interrupted batch cannot be rolled back is a `TransferError`.
    public init(config: PipelineConfig, hooks: (any PipelineHooks)?, logger: Logger, dryRun: Bool,
                print: @escaping (String) -> Void) throws {
        self.config = config
        self.hooks = hooks
        self.logger = logger
        self.dryRun = dryRun
        self.print = print
        let name = config.name
        self.filter = try Filter(rules: config.ignore, evaluate: hooks.map { h in
            { [weak h] index, path, isDirectory in
                try h?.ignores(pipeline: name, predicate: index, path: path, isDirectory: isDirectory) ?? false
            }
        })
        self.coalescer = Coalescer(delay: config.delay, maxDelay: config.maxDelay)
        var targets: [(PipelineConfig.Destination, Target)] = []
        for d in config.destinations {
            switch d.uri {
            case .file(let path):
                if path == config.source || path.hasPrefix(config.source + "/") || config.source.hasPrefix(path + "/") {
                    throw ConfigError("pipeline '\(config.name)': target \(d.uri) overlaps the source \(config.source)", at: config.location)
                }
                // Opening a target rolls back a batch a crash interrupted there.
                targets.append((d, .local(try LocalTarget(root: path, recover: !dryRun))))
            case let .ssh(user, host, port, module):
                let ssh = config.ssh
                let command = RemoteTarget.sshCommand(user: user, host: host, port: port, module: module, ssh: ssh.command,
                                                      runner: ssh.runner, receiver: ssh.receiver)
                targets.append((d, .remote(RemoteTarget(uri: d.uri, command: command))))
            case .runner:
                var credentials: (user: String, secret: String)?
                if let auth = config.auth {
                    credentials = (auth.user, try SecretsFile.readSenderSecret(auth.secretFile, user: auth.user, at: config.location))
                }
                targets.append((d, .remote(RemoteTarget(uri: d.uri, command: [], credentials: credentials))))
            }
        }
        self.targets = targets
    }

    /// The inotify descriptor to poll, once watching.
    public var fileDescriptor: Int32? { watcher?.fileDescriptor }

    /// Starts watching the source. Call before the initial sync, so that nothing
    /// changed during the sync can be missed.
    public func startWatching(now: Double = MonotonicClock.now) throws(WatchError) {
        let filter = self.filter
        let singleFile = config.sourceFile != nil
        watcher = try InotifyWatcher(root: config.source) { path in
            !singleFile && !((try? filter.isIgnored(path, isDirectory: true)) ?? false)
        }
        logger.info("watching", metadata: ["pipeline": "\(config.name)", "source": "\(config.source)",
                                          "directories": "\(watcher!.watchCount)"])
        reportUnwatched(now: now)
    }

    /// The watch limit was reached: say so once, with the fix, and scan what is unwatched.
    private func reportUnwatched(now: Double) {
        guard let watcher, !watcher.unwatched.isEmpty else { return }
        if nextScan == nil { nextScan = now + config.scanInterval }
        guard !limitReported else { return }
        limitReported = true
        let limit = (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_user_watches", encoding: .utf8))?
            .split(whereSeparator: \.isWhitespace).first.map(String.init) ?? "?"
        let needed = watcher.directoriesInTree()
        let suggested = max(8192, (needed + watcher.watchCount) * 2)
        logger.error("""
            inotify watch limit reached (fs.inotify.max_user_watches = \(limit)): this tree needs \(needed) watches. \
            Raise it with: sysctl -w fs.inotify.max_user_watches=\(suggested) (persist it in /etc/sysctl.d/). \
            Until then \(watcher.unwatched.count) unwatched directories are scanned every \(config.scanInterval)s
            """, metadata: ["pipeline": "\(config.name)"])
    }

    /// Paths that make up a full sync: the whole tree, or the single source file.
    private var fullSyncPaths: [String]? { config.sourceFile.map { [$0] } }

    /// Brings every target up to date with the whole source. Returns false when a target failed.
    /// With `untilSettled` (`--once`), files that changed while they were read are sent
    /// again, a few times, instead of being left for a later batch that will not come.
    @discardableResult
    public func initialSync(control: RunControl, untilSettled: Bool = false) -> Bool {
        var ok = process(ChangeBatch(paths: [], fullRescan: true), initial: true, control: control)
        var attempts = 0
        while untilSettled, ok, !retry.isEmpty, !retryFullRescan, attempts < 5, !control.isStopRequested {
            attempts += 1
            let paths = retry.sorted()
            retry.removeAll()
            retryAt = nil
            ok = process(ChangeBatch(paths: paths, fullRescan: false), initial: false, control: control)
        }
        return ok && (!untilSettled || retry.isEmpty)
    }

    /// Reads pending watch events into the current batch.
    public func readEvents(now: Double) {
        guard let watcher else { return }
        let events: [WatchEvent]
        do { events = try watcher.read() } catch {
            logger.error("\(error)", metadata: ["pipeline": "\(config.name)"])
            coalescer.addRescan(at: now)
            return
        }
        for event in events {
            switch event.kind {
            case .overflow:
                logger.warning("inotify queue overflowed: rescanning the tree", metadata: ["pipeline": "\(config.name)"])
                openWrites.removeAll()
                coalescer.addRescan(at: now)
            case .moved(let from):
                openWrites[from] = nil
                openWrites[event.path] = nil
                if !ignored(from, isDirectory: event.isDirectory, now: now) { coalescer.add(from, at: now) }
                if !ignored(event.path, isDirectory: event.isDirectory, now: now) { coalescer.add(event.path, at: now) }
            case .created, .modified:
                // Possibly still being written: wait for close, or for it to stop changing.
                guard !ignored(event.path, isDirectory: false, now: now) else { continue }
                if event.kind == .created, let kind = FileInfo.lstat(FileSystem.join(config.source, event.path))?.kind, kind != .file {
                    coalescer.add(event.path, at: now)  // a symlink or special file is complete when it appears
                    continue
                }
                let since = openWrites[event.path]?.since ?? now
                openWrites[event.path] = (nil, since, now)
                coalescer.touch(at: now)
            case .written, .deleted, .attributes:
                if event.path.isEmpty && event.kind == .deleted {
                    logger.error("the source directory was deleted or moved away", metadata: ["pipeline": "\(config.name)"])
                    continue
                }
                if event.kind != .attributes { openWrites[event.path] = nil }
                if !ignored(event.path, isDirectory: event.isDirectory, now: now) { coalescer.add(event.path, at: now) }
            }
        }
        reportUnwatched(now: now)
    }

    /// Whether the filter drops a path (recorded for `--dry-run`). A failing predicate
    /// must not lose a change: it is logged and the path is kept.
    private func ignored(_ path: String, isDirectory: Bool, now: Double) -> Bool {
        if let only = config.sourceFile { return path != only }
        do {
            let decision = try filter.decide(path, isDirectory: isDirectory)
            if decision.ignored {
                logger.trace("ignored", metadata: ["pipeline": "\(config.name)", "path": "\(path)", "why": "\(decision.explanation)"])
                coalescer.addIgnored(path, reason: decision.explanation, at: now, startsBatch: dryRun)
                return true
            }
        } catch {
            logger.error("ignore rule failed for \(path): \(error)", metadata: ["pipeline": "\(config.name)"])
        }
        return false
    }

    /// How long a file written without a close must stay unchanged before it is sent.
    private var settle: Double { max(config.delay, 0.3) }

    /// When this pipeline next needs the loop's attention.
    public var deadline: Double? {
        let settling = openWrites.values.map { $0.lastEvent + settle }.min()
        return [coalescer.deadline, retryAt, nextScan, settling].compactMap { $0 }.min()
    }

    /// Cuts and processes a batch if one is due.
    public func flushIfDue(now: Double, control: RunControl) {
        settleOpenWrites(now: now)
        if let at = nextScan, now >= at, let watcher {
            for path in watcher.rewatchUnwatched() {
                if path.isEmpty { coalescer.addRescan(at: now - coalescer.delay) } else { coalescer.add(path, at: now - coalescer.delay) }
            }
            nextScan = watcher.unwatched.isEmpty ? nil : now + config.scanInterval
        }
        if let at = retryAt, now >= at {
            retryAt = nil
            for p in retry { coalescer.add(p, at: now - coalescer.delay) }
            if retryFullRescan { coalescer.addRescan(at: now - coalescer.delay) }
            retry.removeAll()
            retryFullRescan = false
        }
        guard let batch = coalescer.cut(at: now) else { return }
        // The monotonic time lets `make bench` measure event-to-batch latency from outside.
        logger.debug("batch cut", metadata: ["pipeline": "\(config.name)", "paths": "\(batch.paths.count)",
                                            "full": "\(batch.fullRescan)", "mono": "\(MonotonicClock.now)"])
        if process(batch, initial: false, control: control) && retry.isEmpty && !retryFullRescan { retryBackoff = 1.0 }
    }

    /// Files written without a close go into the batch once their size and mtime held
    /// still for `settle` (or, for a writer that never stops, once every `maxDelay`).
    private func settleOpenWrites(now: Double) {
        for (path, w) in openWrites where now - w.lastEvent >= settle {
            let info = FileInfo.lstat(FileSystem.join(config.source, path))
            let stable = info == nil || (w.stamp.map { info!.sameContent(as: $0) } ?? false)
            if stable || now - w.since >= config.maxDelay {
                openWrites[path] = nil
                coalescer.add(path, at: now - coalescer.delay)
            } else {
                openWrites[path] = (info, w.since, now)
            }
        }
    }

    /// Processes a batch on every target; returns false when one failed.
    private func process(_ batch: ChangeBatch, initial: Bool, control: RunControl) -> Bool {
        if !initial { batchNumber += 1 }
        let label = initial ? "initial sync" : "batch \(batchNumber)"
        if dryRun { return describe(batch, label: label) }
        if batch.paths.isEmpty && !batch.fullRescan { return true }

        if let hooks, config.hasCheck, !initial {
            do {
                if let reason = try hooks.check(pipeline: config.name, source: config.source, batch: batch) {
                    logger.warning("\(label) held by check: \(reason)", metadata: ["pipeline": "\(config.name)"])
                    scheduleRetry(batch.paths, fullRescan: batch.fullRescan, now: MonotonicClock.now)
                    for (d, _) in targets { runAfter(d, TargetResult(status: .held, message: reason)) }
                    return true
                }
            } catch {
                logger.error("\(label): check failed: \(error)", metadata: ["pipeline": "\(config.name)"])
                scheduleRetry(batch.paths, fullRescan: batch.fullRescan, now: MonotonicClock.now)
                return false
            }
        }

        var ok = true
        for (destination, target) in targets {
            let started = MonotonicClock.now
            let result: TargetResult
            do {
                let paths = batch.fullRescan ? fullSyncPaths : batch.paths
                let (plan, listing) = try self.plan(target, paths: paths)
                for path in plan.skipped {
                    logger.warning("not a file, directory or symlink: skipped", metadata: ["pipeline": "\(config.name)", "path": "\(path)"])
                }
                let outcome: LocalTarget.Outcome
                switch target {
                case .local(let local):
                    outcome = try local.apply(plan, from: config.source, cancelled: { control.isStopRequested })
                case .remote(let remote):
                    outcome = try remote.apply(plan, listing: listing ?? RemoteListing(), from: config.source,
                                               cancelled: { control.isStopRequested })
                }
                if !outcome.retry.isEmpty { scheduleRetry(outcome.retry, fullRescan: false, now: MonotonicClock.now) }
                if !outcome.resent.isEmpty {
                    let paths = outcome.resent.joined(separator: ", ")
                    logger.notice("\(label): sent again whole: \(paths) (the delta rebuilt another file at the receiver: its copy changed meanwhile, or a block had the same sums)",
                                  metadata: ["pipeline": "\(config.name)", "target": "\(destination.uri)"])
                }
                let changed = outcome.written + outcome.deleted + outcome.updated > 0
                let metadata: Logger.Metadata = [
                    "pipeline": "\(config.name)", "target": "\(destination.uri)", "written": "\(outcome.written)",
                    "deleted": "\(outcome.deleted)", "bytes": "\(outcome.bytes)", "ms": "\(Int((MonotonicClock.now - started) * 1000))",
                ]
                if let why = outcome.rolledBack {
                    // The content itself was refused: sending it again changes nothing until the source does.
                    ok = false
                    result = TargetResult(status: .rolledBack, message: why, actions: outcome.actions)
                    logger.error("\(label): rolled back: \(why)", metadata: metadata)
                } else {
                    result = TargetResult(status: changed ? .applied : .unchanged, written: outcome.written,
                                          deleted: outcome.deleted, bytes: outcome.bytes, actions: outcome.actions)
                    let failed = outcome.actions.filter { $0.outcome != .ok && $0.outcome != .skipped }
                    let done = outcome.actions.filter { $0.outcome == .ok }.map(\.summary)
                    let text = ([result.status.rawValue] + done).joined(separator: ", ")
                    if failed.isEmpty {
                        logger.log(level: changed || initial ? .info : .debug, "\(label): \(text)", metadata: metadata)
                    } else {
                        ok = false
                        logger.error("\(label): \(text); \(failed.map { "\($0.name): \($0.summary)" }.joined(separator: "; "))", metadata: metadata)
                    }
                }
            } catch {
                ok = false
                result = TargetResult(status: .failed, message: "\(error)")
                logger.error("\(label) failed: \(error)", metadata: ["pipeline": "\(config.name)", "target": "\(destination.uri)"])
                // After a remote failure the next session starts with a full resync (quick
                // check, deltas for what differs): the receiver may have lost more than this batch.
                let remote: Bool = { if case .remote = target { return true } else { return false } }()
                if !control.isStopRequested { scheduleRetry(batch.paths, fullRescan: batch.fullRescan || initial || remote, now: MonotonicClock.now) }
            }
            if result.status != .unchanged || initial { runAfter(destination, result) }
            if control.isStopRequested { break }
        }
        return ok
    }

    /// Plans a batch for one target without changing it; a remote target also returns
    /// the receiver's listing the plan was made against (the apply step needs it).
    private func plan(_ target: Target, paths: [String]?) throws -> (SyncPlan, RemoteListing?) {
        switch target {
        case .local(let local):
            return (try SyncPlanner(source: config.source, target: local.root, filter: filter, delete: config.delete).plan(paths: paths), nil)
        case .remote(let remote):
            let (plan, listing) = try remote.plan(paths: paths, source: config.source, filter: filter, delete: config.delete)
            return (plan, listing)
        }
    }

    /// Ends remote sessions (at shutdown).
    public func disconnect() {
        for (_, target) in targets { if case .remote(let r) = target { r.disconnect() } }
    }

    private func runAfter(_ destination: PipelineConfig.Destination, _ result: TargetResult) {
        guard let hooks, config.hasAfter else { return }
        do {
            try hooks.after(pipeline: config.name, target: destination.uri.description, result: result)
        } catch {
            logger.error("after hook failed: \(error)", metadata: ["pipeline": "\(config.name)", "target": "\(destination.uri)"])
        }
    }

    private func scheduleRetry(_ paths: [String], fullRescan: Bool, now: Double) {
        retry.formUnion(paths)
        retryFullRescan = retryFullRescan || fullRescan
        retryAt = now + retryBackoff
        retryBackoff = min(retryBackoff * 2, 30)
    }

    /// `--dry-run`: prints what the batch would do, touching nothing.
    private func describe(_ batch: ChangeBatch, label: String) -> Bool {
        var lines = ["\(label) (\(config.name)):"]
        var ignored = batch.ignored
        var ok = true
        var planned: [(String, SyncPlan)] = []
        for (destination, target) in targets {
            do {
                planned.append((destination.uri.description, try plan(target, paths: batch.fullRescan ? fullSyncPaths : batch.paths).0))
            } catch {
                ok = false
                lines.append("  error planning for \(destination.uri): \(error)")
            }
        }
        if let first = planned.first { ignored += first.1.ignored }
        var fates: [String: [String]] = [:]
        var order: [String] = []
        for (uri, plan) in planned {
            for op in plan.operations {
                let what: String
                switch op {
                case .copy(_, let info): what = "send (\(info.size) bytes)"
                case .directory: what = "make directory"
                case .attributes: what = "set mode/times"
                case .symlink(_, let dest, _): what = "link -> \(dest)"
                case .delete: what = "delete"
                }
                if fates[op.path] == nil { order.append(op.path) }
                fates[op.path, default: []].append("\(what) to \(uri)")
            }
        }
        for path in order { lines.append("  \(path.isEmpty ? "." : path): \(fates[path]!.joined(separator: "; "))") }
        for (destination, target) in targets {
            guard case .remote(let remote) = target,
                  planned.contains(where: { $0.0 == destination.uri.description && !$0.1.operations.isEmpty }) else { continue }
            do {
                for action in try remote.describeActions() { lines.append("  then on \(destination.uri): \(action)") }
            } catch {
                lines.append("  then on \(destination.uri): actions unknown (\(error))")
            }
        }
        for path in batch.paths where fates[path] == nil && !ignored.contains(where: { $0.path == path }) {
            lines.append("  \(path): up to date on all targets")
        }
        var seen = Set<String>()
        for (path, reason) in ignored.sorted(by: { $0.path < $1.path }) where seen.insert(path).inserted {
            lines.append("  \(path): \(reason)")
        }
        if config.hasCheck && !batch.paths.isEmpty { lines.append("  would call check(batch) first") }
        if config.hasAfter && !order.isEmpty { lines.append("  would call after(host, result) for each target") }
        if lines.count == 1 { lines.append("  nothing to do") }
        print(lines.joined(separator: "\n"))
        return ok
    }
}
