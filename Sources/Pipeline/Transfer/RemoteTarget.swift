import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A target reached through the wire protocol (`runner://`, `ssh://`): plans against
/// the receiver's listing, fetches signatures, and sends a batch as deltas. The
/// connection is made on first use and dropped on any error, so the next batch (a
/// retry) reconnects.
public final class RemoteTarget: SyncTarget {
    /// The target, for logs and hooks.
    public let uri: TargetURI
    /// The command that reaches the receiver (`ssh ... runner receive R.lua --module M`); empty for TCP.
    public let command: [String]
    /// The user and secret for `runner://` (the secret never crosses the wire).
    private let credentials: (user: String, secret: String)?
    /// Seconds each step (connect, handshake, every read and write) may wait for progress.
    private let timeout: Double
    private var connection: RemoteConnection?
    /// The token this sender's hellos carry, and the one the open connection said.
    private let token: FencingToken
    private var connectionToken: UInt64 = 0
    var batchID: UInt64 = 0
    /// Deltas, sums and zstd contexts shared with the pipeline's other hosts.
    let deltas: DeltaCache
    /// For a `dial://` target: where its connections wait, under which pipeline, and the one
    /// the open connection came as.
    private let dialing: (board: DialBoard, pipeline: String)?
    private var dialed: Int32?
    /// Operations per part of a plan sent as the walk goes.
    var partSize = SyncPlanner.partSize
    /// Every plan asks for the listing (`--dry-run`: it shows what differs, not what is sent).
    public let alwaysLists: Bool
    /// Owners go as numbers (`numeric_ids`), not as names.
    public let numericIDs: Bool

    /// A remote target reached by `command` (ssh), or over TCP when `command` is empty.
    public init(
        uri: TargetURI, command: [String], credentials: (user: String, secret: String)? = nil, timeout: Double = 10,
        alwaysLists: Bool = false, numericIDs: Bool = false, token: FencingToken = FencingToken(),
        deltas: DeltaCache = DeltaCache(), dialing: (board: DialBoard, pipeline: String)? = nil
    ) {
        self.uri = uri
        self.deltas = deltas
        self.dialing = dialing
        self.token = token
        self.command = command
        self.credentials = credentials
        self.timeout = timeout
        self.alwaysLists = alwaysLists
        self.numericIDs = numericIDs
    }

    /// The ssh command line for an `ssh://` target.
    /// The session stays open between batches; ssh's keepalives find a peer that went
    /// away within about `timeout` seconds even while no batch is under way.
    public static func sshCommand(
        user: String?, host: String, port: Int?, module: String, ssh: [String], runner: String,
        receiver: String, timeout: Double = 10
    ) -> [String] {
        let seconds = String(max(1, Int(timeout.rounded(.up))))
        var argv =
            ssh + [
                "-o", "BatchMode=yes", "-o", "ConnectTimeout=\(seconds)", "-o", "ServerAliveInterval=\(seconds)",
                "-o", "ServerAliveCountMax=2",
            ]
        if let port { argv += ["-p", String(port)] }
        if let user { argv += ["-l", user] }
        return argv + [host, "--", runner, "receive", receiver, "--module", module]
    }

    /// Forgets the connection (after an error, or at shutdown): the receiver sees its input close.
    public func disconnect() {
        connection?.close()
        connection = nil
        if let dialing, let fd = dialed { dialing.board.dropped(pipeline: dialing.pipeline, target: uri, fd: fd) }
        dialed = nil
    }

    /// Runs `body` on the open connection; any error drops it.
    private func session<T>(_ body: (RemoteConnection) throws -> T) throws -> T {
        do {
            let term = token.current
            // A session of an earlier term would be fenced out: it says hello again.
            if connection != nil && connectionToken != term { disconnect() }
            // A session the receiver ended (its idle timeout): a new one, not a failed write.
            if let c = connection, c.peerHungUp { disconnect() }
            if connection == nil, let dialing {
                guard let fd = dialing.board.take(pipeline: dialing.pipeline, target: uri) else {
                    throw WireError("\(uri) has not dialed in")
                }
                dialed = fd
            }
            let c =
                try connection
                ?? RemoteConnection.open(
                    uri, command: command, credentials: credentials, timeout: timeout, numericIDs: numericIDs,
                    token: term, dialed: dialed)
            connection = c
            connectionToken = term
            let result = try body(c)
            // An idle session holds no buffers: a fleet's hosts wait between batches.
            c.reader.release()
            c.writer.release()
            return result
        } catch {
            let said = connection?.lastWords()
            disconnect()
            if let said { throw WireError("the peer refused: \(said)", refusal: said) }
            throw error
        }
    }

    /// Opens the session now if none is open (a receiver that dialed waits for its hello).
    public func open() throws { try session { _ in } }

    /// Ends the open session, telling the receiver why when it is a failure (`runner pull
    /// --once` exits with it).
    public func end(failure: String?) {
        if let failure { connection?.writer.sayError(failure) }
        disconnect()
    }

    /// Asks the receiver for its listing of what the paths touch and plans against it
    /// (a batch of small files plans without it: `SyncPlanner.blind`).
    public func plan(paths: [String]?, moves: [String: String], source: any SourceTree, filter: Filter, delete: Bool)
        throws -> SyncPlan
    {
        if let plan = blindPlan(paths: paths, moves: moves, source: source, delete: delete) { return plan }
        return try session { c in
            let view = try view(of: paths, source: source, over: c)
            var planner = SyncPlanner(source: source, view: view, filter: filter, delete: delete)
            planner.moves = moves
            let plan = try planner.plan(paths: paths)
            try (view as? RemoteTreeView)?.settle()
            return plan
        }
    }

    /// Plans against the receiver's listing and sends the plan part by part as the walk
    /// makes it, in one batch.
    public func sync(
        paths: [String]?, moves: [String: String], source: any SourceTree, filter: Filter, delete: Bool,
        cancelled: () -> Bool
    ) throws -> SyncOutcome {
        if let plan = blindPlan(paths: paths, moves: moves, source: source, delete: delete) {
            return try apply(plan, from: source, cancelled: cancelled)
        }
        return try session { c in
            let view = try view(of: paths, source: source, over: c)
            var planner = SyncPlanner(source: source, view: view, filter: filter, delete: delete)
            planner.moves = moves
            var sending = Sending()
            // The listing asked ahead is read before the batch is written to: both ends then
            // never write at once.
            let settle = { try (view as? RemoteTreeView)?.settle() }
            try planner.plan(paths: paths, partSize: partSize) { part in
                try settle()
                try send(part, from: source, over: c, &sending, cancelled: cancelled)
                sending.outcome.skipped += part.skipped
            }
            try settle()
            return try finish(&sending, over: c, cancelled: cancelled, source: source)
        }
    }

    /// Sends a planned batch (deltas against the receiver's files where it has them)
    /// and returns what the receiver committed.
    public func apply(_ plan: SyncPlan, from source: any SourceTree, cancelled: () -> Bool) throws -> SyncOutcome {
        try session { c in
            var sending = Sending()
            try send(plan, from: source, over: c, &sending, cancelled: cancelled)
            return try finish(&sending, over: c, cancelled: cancelled, source: source)
        }
    }

    /// The plan of a batch of small files, made without the listing, unless every plan lists.
    private func blindPlan(paths: [String]?, moves: [String: String], source: any SourceTree, delete: Bool) -> SyncPlan?
    {
        guard !alwaysLists, let paths else { return nil }
        return SyncPlanner.blind(paths: paths, moves: moves, source: source, delete: delete)
    }

    /// The receiver's tree as a plan for `paths` sees it: for the whole module (nil), listed
    /// directory by directory as the walk goes; for a batch's paths, the listing of what they touch.
    private func view(of paths: [String]?, source: any SourceTree, over c: RemoteConnection) throws -> any TargetView {
        guard let paths else { return RemoteTreeView(over: c, source: source) }
        c.clock.step = "waiting for the listing"
        try c.request(.scan(paths: paths))
        var listing = RemoteListing(scanning: paths)
        while true {
            let message = try c.reader.receive()
            if case .scanEnd = message { break }
            guard case .entry(let entry) = message else {
                throw WireError("expected an entry, got \(message.frameType)")
            }
            try listing.add(entry)
        }
        return listing
    }

    /// What the receiver's module runs after each batch (for `--dry-run`), one line each.
    public func describeActions() throws -> [String] {
        try session { c in
            c.clock.step = "waiting for the action list"
            try c.request(.actions)
            let reply = try c.reader.receive()
            guard case .actionList(let lines) = reply else {
                throw WireError("expected the action list, got \(reply.frameType)")
            }
            return lines
        }
    }

    public func read(_ paths: [String]) throws -> [TargetFileContent] {
        guard !paths.isEmpty else { return [] }
        return try session { c in
            c.clock.step = "waiting for the files' content"
            try c.request(.read(paths: paths))
            var contents: [TargetFileContent] = []
            while contents.count < paths.count {
                let reply = try c.reader.receive()
                guard case let .content(index, state, bytes) = reply, index == contents.count else {
                    throw WireError("expected the content of file \(contents.count), got \(reply.frameType)")
                }
                switch state {
                case .absent: contents.append(.absent)
                case .tooLarge: contents.append(.tooLarge)
                case .present: contents.append(.bytes(bytes))
                }
            }
            return contents
        }
    }
}
