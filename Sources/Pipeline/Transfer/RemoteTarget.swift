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
    private var batchID: UInt64 = 0
    /// The receiver's listing the last plan was made against (the batch needs it).
    private var listing = RemoteListing()
    /// zstd's context, made once rather than per file.
    private lazy var compressor = LiteralCompressor()
    /// Every plan asks for the listing (`--dry-run`: it shows what differs, not what is sent).
    public let alwaysLists: Bool

    /// A remote target reached by `command` (ssh), or over TCP when `command` is empty.
    public init(
        uri: TargetURI, command: [String], credentials: (user: String, secret: String)? = nil, timeout: Double = 10,
        alwaysLists: Bool = false
    ) {
        self.uri = uri
        self.command = command
        self.credentials = credentials
        self.timeout = timeout
        self.alwaysLists = alwaysLists
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

    public var resyncsAfterFailure: Bool { true }

    /// Forgets the connection (after an error, or at shutdown): the receiver sees its input close.
    public func disconnect() {
        connection?.close()
        connection = nil
    }

    /// Runs `body` on the open connection; any error drops it.
    private func session<T>(_ body: (RemoteConnection) throws -> T) throws -> T {
        do {
            let c =
                try connection
                ?? RemoteConnection.open(uri, command: command, credentials: credentials, timeout: timeout)
            connection = c
            return try body(c)
        } catch {
            let said = connection?.lastWords()
            disconnect()
            if let said { throw WireError("the peer refused: \(said)", refusal: said) }
            throw error
        }
    }

    /// Asks the receiver for its listing of what the paths touch and plans against it
    /// (a batch of small files plans without it: `SyncPlanner.blind`).
    public func plan(paths: [String]?, moves: [String: String], source: SourceTree, filter: Filter, delete: Bool)
        throws -> SyncPlan
    {
        if !alwaysLists, let paths,
            let plan = SyncPlanner.blind(paths: paths, moves: moves, source: source, delete: delete)
        {
            listing = RemoteListing()
            return plan
        }
        return try session { c in
            c.clock.step = "waiting for the listing"
            try c.request(.scan(paths: paths ?? [""]))
            var listing = RemoteListing(scanning: paths ?? [""])
            while true {
                let message = try c.reader.receive()
                if case .scanEnd = message { break }
                guard case .entry(let entry) = message else {
                    throw WireError("expected an entry, got \(message.frameType)")
                }
                try listing.add(entry)
            }
            self.listing = listing
            var planner = SyncPlanner(source: source, view: listing, filter: filter, delete: delete)
            planner.moves = moves
            return try planner.plan(paths: paths)
        }
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

    /// Sends a planned batch (deltas against the receiver's files where it has them)
    /// and returns what the receiver committed.
    public func apply(_ plan: SyncPlan, from source: SourceTree, cancelled: () -> Bool) throws -> SyncOutcome {
        try session { c in try send(plan, listing: listing, from: source, over: c, cancelled: cancelled) }
    }

    private func send(
        _ plan: SyncPlan, listing: RemoteListing, from source: SourceTree, over c: RemoteConnection,
        cancelled: () -> Bool
    ) throws -> SyncOutcome {
        var outcome = SyncOutcome()
        // Same size at the receiver, large: block sums first; the same bytes are not sent at
        // all, a file edited in place sends its changed blocks.
        let blocks = try compareBlocks(plan, listing: listing, source: source, over: c)
        let unchanged = blocks.same
        // Small files and files the receiver lacks go whole: no signature round trip. A file
        // moved and edited has its delta made against the receiver's file at the old path.
        var wanted: [(path: String, basis: String)] = []
        for op in plan.operations {
            guard case .copy(let path, let info) = op, !unchanged.contains(path), blocks.edited[path] == nil else {
                continue
            }
            let basisPath = plan.bases[path] ?? path
            if let basis = listing.info(basisPath), basis.kind == .file,
                basis.size >= SyncPlanner.blindLimit || info.size >= SyncPlanner.blindLimit
            {
                wanted.append((path, basisPath))
            }
        }
        let fetched = try fetchSignatures(wanted.map(\.basis), listing: listing, over: c)
        var signatures: [String: Signature] = [:]
        for w in wanted { signatures[w.path] = fetched[w.basis] }
        // Renamed at the receiver: if its old file is gone meanwhile, it asks for them whole.
        var renamed = Set<String>()
        if cancelled() { throw TransferError("batch abandoned before it was sent (shutdown)", path: "\(uri)") }

        batchID &+= 1
        c.clock.step = "sending the batch"
        try c.writer.send(.batch(id: batchID))
        for op in plan.operations {
            switch op {
            case .directory(let path, let info): try c.writer.send(.directory(path: path, info: info))
            case .attributes(let path, let info): try c.writer.send(.attributes(path: path, info: info))
            case .delete(let path): try c.writer.send(.delete(path: path))
            case .link(let path, let from, let info):
                try c.writer.send(.moved(path: path, from: from, info: info))
                renamed.insert(path)
            case .symlink(let path, let destination, let info):
                try c.writer.send(.symlink(path: path, destination: destination, info: info))
            case .copy(let path, let info) where unchanged.contains(path):
                try c.writer.send(.attributes(path: path, info: info))
            case .copy(let path, let info):
                if let from = plan.bases[path] {
                    try c.writer.send(.moved(path: path, from: from, info: info))
                }
                let sent = try sendFile(
                    path, from: source, signature: signatures[path], edit: blocks.edited[path], over: c)
                if let stats = sent {
                    outcome.bytes += stats.deltaBytes
                    outcome.matched += stats.copiedBytes
                } else {
                    outcome.retry.append(path)
                }
            }
        }
        c.clock.step = "waiting for the result"
        try c.request(.commit)
        var reply = try c.reader.receive()
        if case .redo(let paths) = reply {
            // Files whose delta rebuilt something else at the receiver go again whole.
            guard !paths.isEmpty, Set(paths).count == paths.count,
                paths.allSatisfy({ signatures[$0] != nil || blocks.edited[$0] != nil || renamed.contains($0) })
            else {
                throw WireError("the receiver asked again for files it had no delta for")
            }
            outcome.resent = paths
            c.clock.step = "sending files again whole"
            for path in paths {
                if let stats = try sendFile(path, from: source, signature: nil, over: c) {
                    outcome.bytes += stats.deltaBytes
                } else {
                    outcome.retry.append(path)
                }
            }
            c.clock.step = "waiting for the result"
            try c.request(.commit)
            reply = try c.reader.receive()
        }
        guard case .result(let result) = reply else { throw WireError("expected a result, got \(reply.frameType)") }
        guard result.batch == batchID else {
            throw WireError("the receiver answered batch \(result.batch) to batch \(batchID)")
        }
        outcome.written = result.written
        outcome.deleted = result.deleted
        outcome.renamed = renamed.subtracting(outcome.resent).count
        outcome.actions = result.actions
        switch result.status {
        case .rolledBack: throw TransferError("the receiver rolled the batch back: \(result.message)", path: "\(uri)")
        case .rejectedByAction: outcome.rolledBack = result.message
        case .applied, .unchanged: break
        }
        return outcome
    }

    /// Sends one file as a delta against `signature`, or of the blocks `edit` names, or
    /// whole; returns the delta's figures, or nil when the file is gone or changed while it
    /// was read (a later batch sends it).
    private func sendFile(
        _ path: String, from source: SourceTree, signature: Signature?, edit: BlockComparison.Edit? = nil,
        over c: RemoteConnection
    ) throws -> DeltaStats? {
        let full = source.contentPath(path)
        // Gone or replaced since the plan: a later batch has it.
        guard let input = try? FileDescriptor(opening: full, O_RDONLY | O_NOFOLLOW) else { return nil }
        var before = stat()
        fstat(input.raw, &before)
        let info = FileInfo(before)
        try c.writer.send(.file(path: path, info: info, hasBasis: signature != nil || edit != nil))
        let writer = c.writer
        var failure: WireError?
        let capacity = min(c.writer.limits.maxFrame - 16, ByteReader.capacity(for: info.size))
        let frames = ByteWriter(name: "delta of \(path)", capacity: capacity) {
            (bytes) throws(DeltaError) in
            do throws(WireError) { try writer.send(.data(Array(bytes))) } catch {
                failure = error
                throw DeltaError(error.message)
            }
        }
        var stats: DeltaStats
        do throws(DeltaError) {
            let reader = ByteReader(fd: input.raw, name: full, capacity: ByteReader.capacity(for: info.size))
            if let edit {
                stats = try DeltaEncoder.inPlace(
                    reading: reader, basisSize: info.size, blockLength: edit.blockLength, differing: edit.differing,
                    writer: frames, compressor: compressor)
            } else {
                let encoder = DeltaEncoder(signature: signature ?? .none, writer: frames, compressor: compressor)
                try encoder.encode(reading: reader)
                stats = encoder.stats
            }
        } catch {
            if let failure { throw failure }
            throw TransferError(error.message, path: full)
        }
        var after = stat()
        fstat(input.raw, &after)
        // A file that changed while it was read is discarded by the receiver and sent again later.
        let keep = FileInfo(after) == info && stats.newSize == info.size
        try c.writer.send(.fileEnd(keep: keep))
        return keep ? stats : nil
    }

}
