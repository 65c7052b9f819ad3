import Logging
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// One sender's session with a receiver module, over a byte stream (stdin/stdout for
/// `runner receive`, a connection for `runner serve`): the handshake
/// (`+Handshake`), listings and signatures (`+Listing`), then batches staged outside
/// the module and committed through the journal (`+Batch`).
///
/// Nothing from the wire is trusted: every frame length is checked against the
/// negotiated limit, every path must be a `RelativePath`, the tree is reached only
/// through `O_NOFOLLOW` descriptors (a symlink sent in a batch is stored as a link,
/// and a later entry under it is refused), and a failed batch is rolled back.
public final class ReceiverSession {
    let module: ReceiverModule
    let staging: StagingArea
    /// The module's directory, opened once for the session's listings and bases.
    let tree: TreeDirectory
    let reader: FrameReader
    let writer: FrameWriter
    let logger: Logger
    /// The module's `on_sync`, run after each batch that changed something.
    let actions: [any SyncAction]
    /// Rebuilds every file of the session (made at the first).
    lazy var patcher = DeltaPatcher()
    /// What the session did, for the daemon's status and metrics.
    let report: SessionReport
    /// The sender's leader token, and the module's fence it is checked against before each commit.
    let token: UInt64
    let fence: FenceFile
    /// /dev/null, the basis of every file sent whole: opened once for the session.
    private var emptyFile: Int32 = -1

    deinit { if emptyFile >= 0 { close(emptyFile) } }

    func emptyBasis() throws(WireError) -> Int32 {
        if emptyFile < 0 {
            emptyFile = open("/dev/null", O_RDONLY | O_CLOEXEC)
            guard emptyFile >= 0 else { throw WireError("cannot open /dev/null: \(SystemError.text())") }
        }
        return emptyFile
    }

    /// The regular files the batch's listing showed: a file sent whole is compared with the
    /// module's copy only when there is one (a new file costs no lookup). Nil for a batch
    /// planned without a listing (small files): each is compared with what is there.
    var listedFiles: Set<String>?
    /// The directories a LIST showed (a plan of the whole module lists them as it walks):
    /// the files in them are the listed ones. Nil when there was no LIST.
    var listedDirectories: Set<String>?
    /// Files whose block sums the sender asked for: a delta that follows is most likely of
    /// their changed blocks, so the old file is worth copying in the kernel when it cannot be cloned.
    var summedFiles = Set<String>()

    /// How the sender reached us, which decides how the module is chosen and checked.
    public enum Mode: Sendable {
        /// Over ssh (`runner receive --module M`): the module is fixed, ssh authenticated the user.
        case ssh(module: String)
        /// A connection accepted by `runner serve`: the module comes from the sender's
        /// hello and is checked against the peer's address (and, with auth, the user).
        case daemon(peer: String, handshakeTimeout: Double, idleTimeout: Double)
        /// A connection the module dialed (`upstream`): the module is fixed, the dial
        /// authenticated both ends; the sender's hello must come within the timeout.
        case dialed(module: String, handshakeTimeout: Double, idleTimeout: Double)

        var timeouts: (handshake: Double, idle: Double)? {
            switch self {
            case .ssh: nil
            case .daemon(_, let handshake, let idle), .dialed(_, let handshake, let idle): (handshake, idle)
            }
        }
    }

    private init(
        module: ReceiverModule, staging: StagingArea, tree: TreeDirectory, reader: FrameReader, writer: FrameWriter,
        logger: Logger, actions: [any SyncAction], report: SessionReport, token: UInt64
    ) {
        self.report = report
        self.token = token
        fence = FenceFile(module: module)
        self.module = module
        self.staging = staging
        self.tree = tree
        self.reader = reader
        self.writer = writer
        self.logger = logger
        self.actions = actions
    }

    /// Serves one sender on the given descriptors until it says goodbye (true) or closes
    /// (false); a protocol violation or a refusal is answered with an error frame and thrown.
    /// `report` learns how the connection went and what each batch did.
    @discardableResult
    public static func serve(
        modules: [ServedModule], mode: Mode, input: Int32, output: Int32, logger: Logger,
        report: SessionReport = SessionReport(peer: "")
    ) throws(WireError) -> Bool {
        let source = FencedInput(fd: input)
        let reader = FrameReader(
            ByteReader(name: "sender", capacity: 1 << 16) { (into) throws(DeltaError) in
                try source.read(into: into, name: "sender")
            })
        let writer = FrameWriter(fd: output, name: "sender")
        do throws(WireError) {
            if case .dialed(_, let handshakeTimeout, _) = mode {
                // The sender proved the secret before this end dialed on: no stranger holds
                // the place, so a late hello is an error to say (`runner pull` says it), not
                // the alarm's silent end of the process.
                setReceiveTimeout(input, handshakeTimeout)
            } else if let handshakeTimeout = mode.timeouts?.handshake {
                // The alarm below ends a handshake that takes too long; a read does not time
                // out before it.
                setReceiveTimeout(input, handshakeTimeout + 1)
                // The whole handshake's deadline, not each read's: a client that drips a byte
                // a second must not hold its place. The alarm's default action ends the child;
                // made so here, whatever mask or disposition the daemon was started with.
                signal(SIGALRM, SIG_DFL)
                var alarmOnly = sigset_t()
                sigemptyset(&alarmOnly)
                sigaddset(&alarmOnly, SIGALRM)
                pthread_sigmask(SIG_UNBLOCK, &alarmOnly, nil)
                alarm(UInt32(max(1, handshakeTimeout.rounded(.up))))
            }
            let (chosen, token) = try handshake(
                modules: modules.map(\.module), mode: mode, reader: reader, writer: writer, logger: logger,
                report: report)
            // Only once authenticated may a sender raise the fence.
            let fence = FenceFile(module: chosen)
            try fence.admit(token)
            source.admit(fence, token: token)
            alarm(0)
            if let idleTimeout = mode.timeouts?.idle {
                setReceiveTimeout(input, idleTimeout)
                source.setIdleTimeout(idleTimeout)
            }
            let served = modules.first { $0.module.name == chosen.name }!
            let module = served.module, actions = served.actions
            let staging: StagingArea, tree: TreeDirectory
            do throws(TransferError) {
                // Opening the staging area rolls back a batch an earlier receiver left half-committed.
                staging = try StagingArea(tree: module.path, durable: module.fsync, recover: true)
                tree = try TreeDirectory(module.path)
            } catch {
                throw WireError(error.description)
            }
            // Owners as the module says, or as sent (mapped by name); a receiver that may not set
            // them keeps its own (and said so at start).
            let owners = OwnerTable(
                user: module.owner ?? (FileInfo.setsOwners ? nil : FileInfo.unchanged),
                group: module.group ?? (FileInfo.setsOwners ? nil : FileInfo.unchanged))
            try writer.send(
                .welcome(
                    version: UInt32(WireLimits.version), maxFrame: writer.limits.maxFrame,
                    maxPath: RelativePath.maxLength))
            try writer.flush()
            reader.owners = owners
            writer.owners = owners
            report.connected(.accepted, module: module.name)
            return try ReceiverSession(
                module: module, staging: staging, tree: tree, reader: reader, writer: writer, logger: logger,
                actions: actions, report: report, token: token
            ).run()
        } catch {
            if error.message == WireError.closedBeforeHello.message {
                logger.debug("connection closed before its hello (a probe)")
                report.connected(.probe)
                throw error
            }
            logger.error("session ended: \(error)")
            writer.sayError(error.message)
            throw error
        }
    }

    /// Says once, at start, that files keep this process's ids when it may not set others.
    public static func noteOwners(_ modules: [ReceiverModule], logger: Logger) {
        guard !FileInfo.setsOwners else { return }
        let forced = modules.contains { $0.owner != nil || $0.group != nil }
        logger.warning(
            "not running as root: every file written keeps uid \(geteuid()) and gid \(getegid()); owners from the sender\(forced ? " and a module's owner/group" : "") are not applied"
        )
    }

    /// Serves requests until the sender says goodbye (true) or closes (false).
    private func run() throws(WireError) -> Bool {
        while let message = try reader.next() {
            switch message {
            case .scan(let paths): try scan(paths)
            case .batch(let id): try batch(id)
            case .actions: try writer.send(.actionList(ModuleActions.describe(actions)))
            case .read(let paths): try read(paths)
            case .bye: return true
            case .error(let text): throw WireError("the sender ended the session: \(text)", refusal: text)
            default: guard try answerQuery(message) else { throw WireError("unexpected \(message.frameType) frame") }
            }
            try writer.flush()
        }
        return false
    }

    /// Answers a question about the module as it is (a directory's listing, signatures, block
    /// sums), between batches or between the parts of one; false for any other message.
    func answerQuery(_ message: WireMessage) throws(WireError) -> Bool {
        switch message {
        case .list(let paths): try list(paths)
        case .signatures(let seed, let paths): try signatures(paths, seed: seed)
        case .sums(let seed, let paths): try sums(seed, paths)
        default: return false
        }
        return true
    }

    /// A path from the wire, checked; nil for the module root (the empty path).
    static func path(_ raw: String) throws(WireError) -> RelativePath? {
        if raw.isEmpty { return nil }
        do { return try RelativePath(validating: raw) } catch { throw WireError(error.description) }
    }
}
