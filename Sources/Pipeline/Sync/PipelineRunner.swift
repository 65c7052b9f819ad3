import FoundationEssentials
import Logging
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Runs one pipeline: watch the source, filter, coalesce into batches, and bring every
/// target up to date with each batch (`+Batch`; `+DryRun` prints instead). Single-threaded:
/// the run loop drives it.
public final class PipelineRunner {
    /// The pipeline's configuration.
    public let config: PipelineConfig
    /// The pipeline's filter.
    public let filter: Filter
    let hooks: (any PipelineHooks)?
    let logger: Logger
    let dryRun: Bool
    let print: (String) -> Void
    /// Every target, each served on its own.
    let fleet: Fleet
    /// Lua calls a delivery's worker hands to this thread (ignore predicates).
    let calls: MainThreadCalls
    /// Which files are templates (`render = { ... }` patterns).
    let templates: Filter?
    /// The groups whose batches roll out staged (canaries, max_failures).
    let groups: [GroupRollout]
    var retry = RetrySchedule()
    var batchNumber = 0
    /// Where the revisions are remembered across restarts.
    let statePath: String
    var watcher: InotifyWatcher?
    var coalescer: Coalescer
    var openWrites: OpenWrites
    /// The filter's decisions for the pending batch: a path is decided once per batch,
    /// however many events it has (a Lua predicate runs per batch, not per event).
    var decided: [String: Bool] = [:]
    /// When the directories the watch limit left unwatched are scanned next.
    var nextScan: Double?
    /// When the revisions changed since they were last written must be (see `stateChanged`).
    var stateDue: Double?
    var limitReported = false
    /// Held while this pipeline runs: one sender per state directory.
    private var lock: LockFile?
    /// Hears what the pipeline does (its metrics), when the service face is on.
    weak var observer: (any PipelineObserver)?
    /// Revisions not yet applied everywhere: when their first event was seen, and the
    /// hosts still without them (bounded: a host away for long lets the oldest go unmeasured).
    var unpropagated: [Int: (start: Double, waiting: Set<Int>)] = [:]

    /// A runner. A bad `secret_file` is a `ConfigError`; a local target whose
    /// interrupted batch cannot be rolled back is a `TransferError`.
    public init(
        config: PipelineConfig, hooks: (any PipelineHooks)?, logger: Logger, dryRun: Bool,
        stateDirectory: String = Settings.defaultStateDirectory, print: @escaping (String) -> Void
    ) throws {
        self.config = config
        self.hooks = hooks
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
        let backoff = Backoff(initial: config.retryInitial, maximum: config.retryMax)
        let renders = !config.render.isEmpty || config.hasRenderFunction
        fleet = try Fleet(
            hosts: config.destinations.map { d in
                let cache =
                    try renders
                    ? RenderCache(directory: Self.renderDirectory(stateDirectory, config.name, d.uri), vars: d.vars)
                    : nil
                return DeliveryHost(
                    destination: d, target: try Self.target(d, config: config, dryRun: dryRun),
                    source: SourceTree(root: config.source, overlay: cache?.directory), render: cache, backoff: backoff)
            }, maxParallel: config.maxParallel)
        templates = config.render.isEmpty ? nil : try Filter(rules: config.render)
        var groups: [GroupRollout] = []
        if config.rollout.isStaged {
            for name in config.destinations.compactMap(\.group) where !groups.contains(where: { $0.name == name }) {
                let members = config.destinations.indices.filter { config.destinations[$0].group == name }
                let directory = Self.stateDirectory(stateDirectory, config.name) + "/groups/" + Self.safeName(name)
                groups.append(GroupRollout(name: name, hosts: members, rollout: config.rollout, directory: directory))
            }
        }
        self.groups = groups
        statePath = Self.stateDirectory(stateDirectory, config.name) + "/state.json"
        if !dryRun {
            // One sender per pipeline and state directory: a second would number revisions
            // over the first's and resync every host.
            let directory = Self.stateDirectory(stateDirectory, config.name)
            try FileSystem.makeDirectories(directory, mode: 0o700)
            do { lock = try LockFile.acquire(directory + "/lock") } catch let busy as LockFile.Busy {
                throw TransferError(
                    "pipeline '\(config.name)' is already running: \(busy) (stop it, or give this one another state_dir)",
                    path: "")
            }
        }
        if !dryRun {
            let state = DeliveryState.load(statePath)
            batchNumber = state.revision
            for host in fleet.hosts { host.applied = state.applied[host.uri.description] ?? 0 }
            for group in groups { group.approvedRevision = state.approved[group.name] }
        }
        calls = try MainThreadCalls()
    }

    /// Where a pipeline keeps its state: `<state_dir>/<pipeline>`.
    static func stateDirectory(_ root: String, _ pipeline: String) -> String { root + "/" + safeName(pipeline) }

    /// Where a target's rendered templates are kept: its URI made a directory name.
    static func renderDirectory(_ root: String, _ pipeline: String, _ uri: TargetURI) -> String {
        stateDirectory(root, pipeline) + "/render/" + safeName(uri.description)
    }

    /// A name as one directory name: letters, digits, `-` and `.` kept, the rest `_`.
    static func safeName(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
    }

    /// The targets, in order (for `--dry-run`, which plans on this thread).
    var targets: [(destination: PipelineConfig.Destination, target: any SyncTarget)] {
        fleet.hosts.map { ($0.destination, $0.target) }
    }

    private static func target(_ d: PipelineConfig.Destination, config: PipelineConfig, dryRun: Bool) throws
        -> any SyncTarget
    {
        switch d.uri {
        case .file(let path):
            if path == config.source || path.hasPrefix(config.source + "/") || config.source.hasPrefix(path + "/") {
                throw ConfigError(
                    "pipeline '\(config.name)': target \(d.uri) overlaps the source \(config.source)",
                    at: config.location)
            }
            // Opening a target rolls back a batch a crash interrupted there.
            return try LocalTarget(root: path, recover: !dryRun)
        case let .ssh(user, host, port, module):
            let ssh = config.ssh
            return RemoteTarget(
                uri: d.uri,
                command: RemoteTarget.sshCommand(
                    user: user, host: host, port: port, module: module,
                    ssh: ssh.command, runner: ssh.runner, receiver: ssh.receiver, timeout: config.timeout),
                timeout: config.timeout, alwaysLists: dryRun)
        case .rsync:
            if let auth = config.auth {
                // Checked as for runner:// (mode 0600, one secret); rsync reads the file itself.
                _ = try SecretsFile.readSenderSecret(auth.secretFile, user: auth.user, at: config.location)
            }
            return RsyncTarget(
                uri: d.uri, user: config.auth?.user, passwordFile: config.auth?.secretFile, timeout: config.timeout)
        case .runner:
            var credentials: (user: String, secret: String)?
            if let auth = config.auth {
                credentials = (
                    auth.user, try SecretsFile.readSenderSecret(auth.secretFile, user: auth.user, at: config.location)
                )
            }
            return RemoteTarget(
                uri: d.uri, command: [], credentials: credentials, timeout: config.timeout, alwaysLists: dryRun)
        }
    }

    /// Directories watched.
    var watchCount: Int { watcher?.watchCount ?? 0 }

    /// Every host's first delivery has come back, or has been under way for `grace`
    /// seconds (a hung host must not hold the service's READY for its whole timeout; a
    /// host that is down fails fast); always, for a pipeline that only prints.
    public func initialSyncAttempted(now: Double, grace: Double = 2) -> Bool {
        dryRun || fleet.hosts.allSatisfy { $0.attempted || $0.firstStarted.map { now - $0 >= grace } == true }
    }

    /// The inotify descriptor to poll, once watching.
    public var fileDescriptor: Int32? { watcher?.fileDescriptor }

    /// When this pipeline next needs the loop's attention.
    public var deadline: Double? {
        [coalescer.deadline, retry.due, nextScan, openWrites.deadline, fleet.deadline, rolloutDeadline, stateDue]
            .compactMap { $0 }.min()
    }

    /// Cuts and processes a batch if one is due.
    public func flushIfDue(now: Double, control: RunControl) {
        let earlier = now - coalescer.delay
        for path in openWrites.settled(at: now, info: { FileInfo.lstat(FileSystem.join(config.source, $0)) }) {
            coalescer.add(path, .written, at: earlier)
        }
        if let at = nextScan, now >= at, let watcher {
            for path in watcher.rewatchUnwatched() {
                if path.isEmpty { coalescer.addRescan(at: earlier) } else { coalescer.add(path, .written, at: earlier) }
            }
            nextScan = watcher.unwatched.isEmpty ? nil : now + config.scanInterval
        }
        if let at = retry.due, now >= at {
            let (changes, fullRescan) = retry.take()
            for (path, change) in changes { coalescer.add(path, change, at: earlier) }
            if fullRescan { coalescer.addRescan(at: earlier) }
        }
        rolloutDue(now: now)
        if let due = stateDue, now >= due { saveState() }
        guard let batch = coalescer.cut(at: now) else {
            pump(now: now, control: control)
            return
        }
        decided.removeAll(keepingCapacity: true)
        observer?.batchCut(pipeline: config.name, paths: batch.changes.count)
        if batch.fullRescan { observer?.watchTrouble(pipeline: config.name, kind: "rescan") }
        if let first = batch.firstEvent, !fleet.hosts.isEmpty {
            unpropagated[batchNumber + 1] = (first, Set(fleet.hosts.indices))
            if unpropagated.count > 256, let oldest = unpropagated.keys.min() { unpropagated[oldest] = nil }
        }
        // The monotonic time lets `make bench` measure event-to-batch latency from outside.
        logger.debug(
            "batch cut",
            metadata: [
                "pipeline": "\(config.name)", "paths": "\(batch.changes.count)",
                "full": "\(batch.fullRescan)", "mono": "\(MonotonicClock.now)",
            ])
        if process(batch, initial: false, control: control) && retry.isEmpty { retry.succeeded() }
    }

    /// The descriptors that wake the loop for this pipeline besides the watch: results of
    /// deliveries, and Lua calls a delivery waits for.
    public var wakeDescriptors: [Int32] { [fleet.wakeup.descriptor, calls.wakeup.descriptor] }

    /// Ends remote sessions (at shutdown).
    public func disconnect() {
        for (_, target) in targets { target.disconnect() }
    }
}
