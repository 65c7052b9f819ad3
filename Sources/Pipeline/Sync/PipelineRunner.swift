import FoundationEssentials
import Logging
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Runs one pipeline, as a shell around its control plane: the watch and the filter
/// (`+Watch`) cut revisions of the source into the log (`+Cut`); the rollout machine says
/// which host gets which revision; the fleet carries that out, and each answer goes back to
/// the machine (`+Deliver`). `+DryRun` prints instead; `+Stop` sends what is left at a stop.
/// Single-threaded: the run loop drives it.
public final class PipelineRunner {
    /// The pipeline's configuration.
    public let config: PipelineConfig
    /// The pipeline's filter.
    public let filter: Filter
    let hooks: (any PipelineHooks)?
    /// Every line says which pipeline it is about.
    let logger: Logger
    let dryRun: Bool
    let print: (String) -> Void
    /// The source's revisions (for `--dry-run`, a throwaway log of its own).
    public let log: RevisionLog
    /// Where the rollout's state is remembered (nil for `--dry-run`).
    let journal: StateJournal?
    /// What became of each group's revisions, for `runner log` (nil for a dry run).
    let history: RolloutHistory?
    /// Where operators approve, reject and roll back (nil for a dry run, or when it could not
    /// be made: said at start).
    let operatorSocket: UnixStreamListener?
    /// Where group outcomes are POSTed (`notify`), and per group the newest revision told.
    let notifier: Notifier?
    var notified: [Int: Int] = [:]
    /// Which host gets which revision.
    public internal(set) var rollout: Rollout
    /// Each host's values, as its templates were rendered with (by URI).
    let renderKeys: [String: String]
    /// The rollout's groups, as `layout` made them.
    let layout: [Layout]
    /// Every target, each on a thread of its own; indices are the rollout's.
    let fleet: Fleet
    let renderer: Renderer
    /// Lua calls a delivery's worker hands to this thread (ignore predicates).
    let calls: MainThreadCalls
    /// Batches the `check` hook held, offered again later.
    var retry = RetrySchedule()
    var watcher: InotifyWatcher?
    var coalescer: Coalescer
    var openWrites: OpenWrites
    /// The filter's decisions for the pending batch: a path is decided once per batch,
    /// however many events it has (a Lua predicate runs per batch, not per event).
    var decided: [String: Bool] = [:]
    /// When the directories the watch limit left unwatched are scanned next.
    var nextScan: Double?
    var limitReported = false
    /// Where `config.source` leads, watched for a flip.
    var source: WatchedSource
    /// The source directory as watched: `config.source`, or where its symlinks lead.
    var sourceRoot: String { source.path }
    /// When a cut that failed (the source directory missing) is tried again.
    var cutAgainAt: Double?
    /// When what cuts kept in memory is written even if deliveries still run (`writeBehind`).
    var writeBehindAt: Double?
    /// When the log's next collection may start (`collectAt`), and when the last cut was.
    var collectAfter = 0.0
    var lastCutAt = 0.0
    /// Hears what the pipeline does (its metrics), when the service face is on.
    weak var observer: (any PipelineObserver)?
    /// Revisions not yet applied everywhere, and when their first event was seen (bounded).
    var unpropagated: [Int: Double] = [:]
    /// Hosts whose last answer was not a success (`--once` fails with any).
    var failing = Set<Int>()
    /// Paths between two revisions, counted for the status (bounded).
    var pendingCounts: [PendingKey: Int] = [:]
    /// Set when this pipeline gave up on its deliveries under way (a stop, or its term
    /// ended): they commit nothing. A new term has a fresh one.
    var abandoned = Cancellation()
    /// Its leader election, when senders share it (`settings.coordination`; nil for a dry run).
    let lead: SenderLead?
    /// Where the receivers that dial in wait, and what wakes this pipeline when one did.
    let dialIn: (board: DialBoard, wakeup: Wakeup)?
    /// Hosts that dialed once (`runner pull --once`): their session ends when they settle.
    var dialedOnce = Set<Int>()
    /// Held while this pipeline runs: one sender per state directory.
    private let lock: LockFile?
    /// A dry run's state directory, removed when it ends.
    private let scratch: String?

    /// A runner with its state under `<stateDirectory>/<pipeline>`. A bad `secret_file` is a
    /// `ConfigError`; a second sender of the pipeline, or a local target whose interrupted
    /// batch cannot be rolled back, a `TransferError`.
    public init(
        config: PipelineConfig, hooks: (any PipelineHooks)?, logger: Logger, dryRun: Bool,
        stateDirectory: String = Settings.defaultStateDirectory, coordination: CoordinationSettings? = nil,
        dialBoard: DialBoard? = nil, print: @escaping (String) -> Void
    ) throws {
        self.config = config
        self.hooks = hooks
        var logger = logger
        logger[metadataKey: "pipeline"] = "\(config.name)"
        self.logger = logger
        self.dryRun = dryRun
        self.print = print
        let name = config.name
        filter = try Filter(
            rules: config.ignore,
            evaluate: hooks.map { h in
                { [weak h] index, path, isDirectory in
                    try h?.ignores(pipeline: name, predicate: index, path: path, isDirectory: isDirectory) ?? false
                }
            })
        coalescer = Coalescer(delay: config.delay, maxDelay: config.maxDelay)
        openWrites = OpenWrites(settle: max(config.delay, 0.3), maxDelay: config.maxDelay)
        guard let source = WatchedSource(config.source, now: MonotonicClock.now) else {
            throw TransferError("the source directory is missing", path: config.source)
        }
        self.source = source
        let directory: String
        if dryRun {
            // Nothing of the service's state is touched: revisions go to a log of its own.
            var template = Array("/tmp/runner-dry-run.XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { throw SystemError("mkdtemp", path: "/tmp") }
            directory = String(cString: made)
            scratch = directory
            lock = nil
        } else {
            directory = Self.stateDirectory(stateDirectory, config.name)
            try FileSystem.makeDirectories(directory, mode: 0o700)
            do { lock = try LockFile.acquire(directory + "/lock") } catch let busy as LockFile.Busy {
                throw TransferError(
                    "pipeline '\(config.name)' is already running: \(busy) (stop it, or give this one another state_dir)",
                    path: "")
            }
            scratch = nil
        }
        if !dryRun { Self.dropOldState(directory, logger) }
        if !dryRun && config.delete && config.massChangeGuard == nil {
            logger.warning(
                "delete = true without a guard: a mass delete in the source reaches every host (guard = { max_deleted = \"20%\" } holds one for approval)"
            )
        }
        if !dryRun && !FileInfo.setsOwners,
            config.destinations.contains(where: {
                if case .file = $0.uri { true } else { false }
            })
        {
            logger.warning(
                "not running as root: files written to file:// targets keep uid \(geteuid()) and gid \(getegid()), not the source's owners"
            )
        }
        log = try RevisionLog(directory: directory, keep: config.keepRevisions)
        let journal = dryRun ? nil : StateJournal(directory: directory)
        self.journal = journal
        history = dryRun ? nil : RolloutHistory(directory: directory)
        var socket: UnixStreamListener?
        if !dryRun {
            do { socket = try UnixStreamListener(path: directory + "/control.sock") } catch {
                logger.error("no control socket (runner approve, reject and rollback cannot reach it): \(error)")
            }
        }
        operatorSocket = socket
        notifier = try dryRun ? nil : config.notify?.webhook.flatMap { WebhookURL($0) }.map { try Notifier(url: $0) }
        renderer = Renderer(
            templates: config.render.isEmpty ? nil : try Filter(rules: config.render),
            function: config.hasRenderFunction
                ? hooks.map { h in
                    { [weak h] path, text, vars, target in
                        try h?.render(pipeline: name, path: path, text: text, vars: vars, target: target) ?? text
                    }
                } : nil)
        let lead = try dryRun ? nil : coordination.map { try SenderLead($0, pipeline: name) }
        self.lead = lead
        if lead != nil, let first = CoordinationSettings.unfenced(config).first {
            logger.warning(
                "\(first) keeps no fence: a deposed leader frozen mid-batch could still write there (runner:// and ssh:// targets refuse it)"
            )
        }
        // Hosts in group order: the rollout and the fleet share their indices.
        let layout = Self.layout(config, standbys: lead.map { Self.standbys($0.settings) } ?? [])
        dialIn = try dialBoard.flatMap { board in
            try config.dialTargets.isEmpty
                ? nil : (board, board.expect(pipeline: config.name, targets: config.dialTargets))
        }
        var hosts: [DeliveryHost] = []
        let deltas = DeltaCache()
        for group in layout {
            for d in group.members {
                let target = try TargetFactory.make(
                    d, config: config, dryRun: dryRun, token: lead?.token ?? FencingToken(), deltas: deltas,
                    dialBoard: dialIn?.board)
                hosts.append(DeliveryHost(destination: d, target: target))
            }
        }
        fleet = try Fleet(hosts: hosts)
        var keys: [String: String] = [:]
        for h in hosts { keys[h.uri.description] = renderer.key(for: h.destination) }
        renderKeys = keys
        self.layout = layout
        rollout = Self.makeRollout(
            config, layout: layout, log: log, state: journal.flatMap { $0.isEmpty ? nil : $0.written },
            renderKeys: keys)
        calls = try MainThreadCalls()
        // What the rollout had released before this start was told then.
        for g in rollout.groups.indices { notified[g] = rollout.groups[g].released }
    }

    deinit { if let scratch { try? FileSystem.removeTree(scratch) } }

    /// What a runner before the revision log kept (`state.json`, render caches, group
    /// snapshots) says nothing the log can use: removed, once (every host is compared whole).
    static func dropOldState(_ directory: String, _ logger: Logger) {
        let old = ["state.json", "render", "groups"].filter { FileInfo.lstat(directory + "/" + $0) != nil }
        guard !old.isEmpty else { return }
        for name in old { try? FileSystem.removeTree(directory + "/" + name) }
        logger.notice(
            "state of an earlier runner removed (\(old.joined(separator: ", "))): every host is compared once")
    }

    /// Where a pipeline keeps its state: `<state_dir>/<pipeline>`.
    static func stateDirectory(_ root: String, _ pipeline: String) -> String {
        root + "/" + String(pipeline.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
    }

    /// Directories watched.
    var watchCount: Int { watcher?.watchCount ?? 0 }

    /// Every host's first delivery has come back, or has been under way for `grace`
    /// seconds (a hung host must not hold the service's READY for its whole timeout; a
    /// host that is down fails fast); always, for a pipeline that only prints.
    public func initialSyncAttempted(now: Double, grace: Double = 2) -> Bool {
        dryRun || !isActive
            || fleet.hosts.indices.allSatisfy { h in
                let host = fleet.hosts[h]
                return host.attempted || host.firstStarted.map { now - $0 >= grace } == true
                    || (rollout.hosts[h].sending == nil && !rollout.wants(h))
            }
    }

    /// The inotify descriptor to poll, once watching.
    public var fileDescriptor: Int32? { watcher?.fileDescriptor }

    /// When this pipeline next needs the loop's attention.
    public var deadline: Double? {
        guard isActive else { return lead?.takeOverAgainAt }
        return [
            coalescer.deadline, retry.due, nextScan, openWrites.deadline, dryRun ? nil : rollout.deadline, cutAgainAt,
            source.checkAt, writeBehindAt, dryRun ? nil : collectAt, lead.map { $0.loop.snapshot.validUntil },
            lead?.writeBehindAt,
        ]
        .compactMap { $0 }.min()
    }

    /// The descriptors that wake the loop for this pipeline besides the watch: results of
    /// deliveries, and Lua calls a delivery waits for.
    public var wakeDescriptors: [Int32] {
        [fleet.wakeup.descriptor, calls.wakeup.descriptor] + (source.parent.map { [$0.fileDescriptor] } ?? [])
            + (operatorSocket.map { [$0.descriptor] } ?? [])
            + (lead.map { [$0.loop.wakeup.descriptor, $0.inbox.wakeup.descriptor] } ?? [])
            + (dialIn.map { [$0.wakeup.descriptor] } ?? [])
    }

    /// Ends remote sessions (at shutdown).
    public func disconnect() {
        for host in fleet.hosts { host.target.disconnect() }
    }
}
