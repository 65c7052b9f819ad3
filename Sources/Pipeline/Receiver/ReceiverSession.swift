#if canImport(Glibc)
import Glibc
#endif
import Logging

/// One sender's session with a receiver module, over a byte stream (stdin/stdout for
/// `runner receive`): handshake, listings, signatures, then batches staged outside
/// the module and committed through the journal.
///
/// Nothing from the wire is trusted: every frame length is checked against the
/// negotiated limit, every path must be a `RelativePath`, the tree is reached only
/// through `O_NOFOLLOW` descriptors (a symlink sent in a batch is stored as a link,
/// and a later entry under it is refused), and a failed batch is rolled back.
public final class ReceiverSession {
    private let module: ReceiverModule
    private let target: LocalTarget
    /// The module's directory, opened once for the session's listings and bases.
    private let tree: TreeDirectory
    private let reader: FrameReader
    private let writer: FrameWriter
    private let logger: Logger
    /// The module's `on_sync`, run after each batch that changed something.
    private let actions: [any SyncAction]

    /// How the sender reached us, which decides how the module is chosen and checked.
    public enum Mode: Sendable {
        /// Over ssh (`runner receive --module M`): the module is fixed, ssh authenticated the user.
        case ssh(module: String)
        /// A connection accepted by `runner serve`: the module comes from the sender's
        /// hello and is checked against the peer's address (and, with auth, the user).
        case daemon(peer: String, handshakeTimeout: Double, idleTimeout: Double)
    }

    private init(module: ReceiverModule, target: LocalTarget, tree: TreeDirectory, reader: FrameReader, writer: FrameWriter,
                 logger: Logger, actions: [any SyncAction]) {
        self.module = module
        self.actions = actions
        self.target = target
        self.tree = tree
        self.reader = reader
        self.writer = writer
        self.logger = logger
    }

    /// Serves one sender on the given descriptors until it says goodbye or closes; a
    /// protocol violation or a refusal is answered with an error frame and thrown.
    /// `actionHooks` runs the Lua functions of the modules' `on_sync`.
    public static func serve(modules: [ReceiverModule], mode: Mode, input: Int32, output: Int32, logger: Logger,
                             actionHooks: ActionHooks? = nil) throws(WireError) {
        let reader = FrameReader(fd: input, name: "sender")
        let writer = FrameWriter(fd: output, name: "sender")
        do throws(WireError) {
            if case .daemon(_, let handshakeTimeout, _) = mode { setReceiveTimeout(input, handshakeTimeout) }
            let module = try handshake(modules: modules, mode: mode, reader: reader, writer: writer, logger: logger)
            if case .daemon(_, _, let idleTimeout) = mode { setReceiveTimeout(input, idleTimeout) }
            let target: LocalTarget, tree: TreeDirectory, actions: [any SyncAction]
            do throws(ConfigError) {
                actions = try ModuleActions.make(module, hooks: actionHooks)
            } catch {
                logger.error("module '\(module.name)': \(error)")
                throw WireError("the receiver's module '\(module.name)' is misconfigured")
            }
            do {
                // Opening the module rolls back a batch an earlier receiver left half-committed.
                target = try LocalTarget(root: module.path, durable: module.fsync)
                tree = try TreeDirectory(module.path)
            } catch {
                throw WireError(error.description)
            }
            try writer.send(.welcome) { b in
                b.u32(UInt32(WireLimits.version))
                b.u32(UInt32(writer.limits.maxFrame))
                b.u32(UInt32(RelativePath.maxLength))
            }
            try writer.flush()
            try ReceiverSession(module: module, target: target, tree: tree, reader: reader, writer: writer, logger: logger,
                                actions: actions).run()
        } catch {
            logger.error("session ended: \(error)")
            try? writer.send(.error) { $0.string(String(error.message.prefix(1000))) }
            try? writer.flush()
            throw error
        }
    }

    /// Challenge-response against the module's secrets. Wrong user, wrong secret and a
    /// bad answer look the same to the sender, and each failure costs it a second.
    private static func authenticate(module: ReceiverModule, user: String, peer: String, reader: FrameReader, writer: FrameWriter,
                                     logger: Logger) throws(WireError) {
        let nonce = AuthProof.nonce()
        try writer.send(.challenge) { b in nonce.withUnsafeBytes { b.raw($0) } }
        try writer.flush()
        let (type, payload) = try reader.expect()
        guard type == .auth, payload.count == 32 else { throw WireError("expected an auth answer") }
        var reason: String?
        if !module.authUsers.contains(user) {
            reason = "user '\(user)' is not in auth_users"
        } else {
            do {
                let secrets = try SecretsFile.readReceiverSecrets(module.secrets ?? "", at: module.location)
                if let secret = secrets[user] {
                    if !AuthProof.verify(payload, secret: secret, nonce: nonce, module: module.name, user: user) { reason = "wrong secret for '\(user)'" }
                } else {
                    reason = "no secret for '\(user)'"
                }
            } catch {
                reason = "secrets: \(error)"
            }
        }
        if let reason {
            logger.warning("refused: \(reason)", metadata: ["peer": "\(peer)", "module": "\(module.name)"])
            sleep(1)
            throw WireError("access denied")
        }
        logger.info("authenticated", metadata: ["peer": "\(peer)", "module": "\(module.name)", "user": "\(user)"])
    }

    /// A read that waits longer than this fails (a slow or silent peer is dropped).
    private static func setReceiveTimeout(_ fd: Int32, _ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    private func run() throws(WireError) {
        while let (type, payload) = try reader.next() {
            switch type {
            case .scan: try scan(payload)
            case .signatures: try signatures(payload)
            case .batch: try batch(payload)
            case .actions:
                try PayloadReader(payload).end()
                let lines = ModuleActions.describe(actions)
                try writer.send(.actionList) { b in
                    b.varint(UInt64(lines.count))
                    for line in lines { b.string(line) }
                }
            case .bye: return
            default: throw WireError("unexpected \(type) frame")
            }
            try writer.flush()
        }
    }

    /// Reads the sender's hello and picks the module. Every refusal a stranger could
    /// learn from (unknown module, address not allowed) reads the same: access denied.
    private static func handshake(modules: [ReceiverModule], mode: Mode, reader: FrameReader, writer: FrameWriter,
                                  logger: Logger) throws(WireError) -> ReceiverModule {
        let (type, payload) = try reader.expect()
        guard type == .hello else { throw WireError("expected hello, got \(type)") }
        var r = PayloadReader(payload)
        guard try r.u32() == 0x5052_4E52 else { throw WireError("not a runner sender (bad magic)") }  // "RNRP"
        let version = UInt16(truncatingIfNeeded: try r.u32())
        let maxFrame = Int(try r.u32())
        let name = try r.string(limit: 64)
        let user = try r.string(limit: 64)
        try r.end()
        guard version == WireLimits.version else { throw WireError("protocol version \(version) is not supported (this receiver speaks \(WireLimits.version))") }
        let agreed = min(max(maxFrame, 4096), WireLimits.ceiling)
        reader.limits.maxFrame = agreed
        writer.limits.maxFrame = agreed
        switch mode {
        case .ssh(let fixed):
            guard name == fixed, let module = modules.first(where: { $0.name == fixed }) else { throw WireError("unknown module") }
            return module
        case .daemon(let peer, _, _):
            guard let module = modules.first(where: { $0.name == name }) else {
                logger.warning("refused: no module '\(name)'", metadata: ["peer": "\(peer)", "user": "\(user)"])
                throw WireError("access denied")
            }
            let allow = module.hostsAllow.compactMap { try? AddressRule(parsing: $0) }
            let deny = module.hostsDeny.compactMap { try? AddressRule(parsing: $0) }
            guard AddressRule.allows(peer, allow: allow, deny: deny) else {
                logger.warning("refused: address not allowed", metadata: ["peer": "\(peer)", "module": "\(name)"])
                throw WireError("access denied")
            }
            if !module.authUsers.isEmpty {
                try authenticate(module: module, user: user, peer: peer, reader: reader, writer: writer, logger: logger)
            }
            return module
        }
    }

    private static func path(_ raw: String) throws(WireError) -> RelativePath? {
        if raw.isEmpty { return nil }
        do { return try RelativePath(validating: raw) } catch { throw WireError(error.description) }
    }

    /// Lists each requested path's ancestors (stopping at the first that is not a
    /// directory), then the path and, for a directory, everything below it.
    private func scan(_ payload: [UInt8]) throws(WireError) {
        var r = PayloadReader(payload)
        let count = try r.varint()
        guard count <= 100_000 else { throw WireError("scan of \(count) paths is over the limit") }
        var paths: [RelativePath?] = []
        for _ in 0..<count { paths.append(try Self.path(try r.string())) }
        try r.end()
        var sent = Set<String>()
        func send(_ p: String, _ info: FileInfo, link: String?) throws(WireError) {
            guard sent.insert(p).inserted else { return }
            try writer.send(.entry) { WireEntry(path: p, info: info, link: link).encode(&$0) }
        }
        for path in paths {
            var components: [String] = []
            var reachable = true
            for c in path?.components.dropLast() ?? [] {
                components.append(c)
                let p = try Self.path(components.joined(separator: "/"))!
                guard let info = tree.info(p) else { reachable = false; break }
                try send(p.description, info, link: nil)
                if info.kind != .directory { reachable = false; break }
            }
            if reachable { try walk(path, send: send) }
        }
        try writer.send(.scanEnd)
    }

    private func walk(_ path: RelativePath?, send: (String, FileInfo, String?) throws(WireError) -> Void) throws(WireError) {
        let fd: Int32
        if let path {
            guard let info = tree.info(path) else { return }
            var link: String?
            if info.kind == .symlink { link = readLink(path) }
            try send(path.description, info, link)
            guard info.kind == .directory, let opened = try? tree.openDirectory(path.components[...], create: false) else { return }
            fd = opened
        } else {
            var st = stat()
            fstat(tree.rootFD, &st)
            try send("", FileInfo(st), nil)
            fd = dup(tree.rootFD)
        }
        guard let d = fdopendir(fd) else { close(fd); return }
        var names: [String] = []
        while let entry = readdir(d) {
            let n = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if n != "." && n != ".." { names.append(n) }
        }
        closedir(d)
        for n in names.sorted() {
            let child = path.map { "\($0)/\(n)" } ?? n
            try walk(try Self.path(child), send: send)
        }
    }

    private func readLink(_ path: RelativePath) -> String? {
        guard let parent = try? tree.openDirectory(path.parent, create: false) else { return nil }
        defer { close(parent) }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlinkat(parent, path.name, &buf, buf.count - 1)
        guard n >= 0 else { return nil }
        return String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Opens a regular file of the module for reading, without following symlinks; nil when there is none.
    private func openBasis(_ path: RelativePath) -> Int32? {
        guard let parent = try? tree.openDirectory(path.parent, create: false) else { return nil }
        defer { close(parent) }
        let fd = openat(parent, path.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Sends the signature of each requested file that exists as a regular file.
    private func signatures(_ payload: [UInt8]) throws(WireError) {
        var r = PayloadReader(payload)
        let count = try r.varint()
        guard count <= 100_000 else { throw WireError("signature request of \(count) paths is over the limit") }
        var paths: [RelativePath] = []
        for _ in 0..<count {
            guard let p = try Self.path(try r.string()) else { throw WireError("empty path") }
            paths.append(p)
        }
        try r.end()
        let chunk = writer.limits.maxFrame - 64
        for (index, path) in paths.enumerated() {
            guard let fd = openBasis(path) else {
                try writer.send(.signatureEnd) { $0.varint(UInt64(index)); $0.u8(0) }
                continue
            }
            defer { close(fd) }
            var st = stat()
            fstat(fd, &st)
            let writer = self.writer
            var failure: WireError?
            let sink = ByteWriter(name: "signature", capacity: chunk) { (bytes) throws(DeltaError) in
                do throws(WireError) {
                    try writer.send(.signatureData) { $0.varint(UInt64(index)); $0.raw(bytes) }
                } catch {
                    failure = error
                    throw DeltaError(error.message)
                }
            }
            do throws(DeltaError) {
                let sig = try Signature.compute(reading: ByteReader(fd: fd, name: path.description), fileSize: Int64(st.st_size),
                                                seed: Self.signatureSeed())
                try sig.write(to: sink)
                try sink.flush()
            } catch {
                throw failure ?? WireError("signature of \(path): \(error.message)")
            }
            try writer.send(.signatureEnd) { $0.varint(UInt64(index)); $0.u8(1) }
        }
    }

    /// The seed of a signature: random, so that no one can write blocks that collide under
    /// it in advance. A debug build (the tests') takes it from `RUNNER_DEBUG_SIGNATURE_SEED`
    /// when set, so that a test can plant such blocks and watch the transfer recover.
    private static func signatureSeed() -> UInt64 {
        #if DEBUG
        if let fixed = getenv("RUNNER_DEBUG_SIGNATURE_SEED").flatMap({ UInt64(String(cString: $0)) }) { return fixed }
        #endif
        return StrongHash.randomSeed()
    }

    /// Receives one batch: entries are staged outside the module until COMMIT, then
    /// committed through the journal; the result goes back to the sender.
    private func batch(_ payload: [UInt8]) throws(WireError) {
        var r = PayloadReader(payload)
        let id = try r.u64()
        try r.end()
        guard !module.readOnly else { throw WireError("module '\(module.name)' is read-only") }
        let staged: StagedBatch
        do { staged = try target.beginBatch() } catch { throw WireError(error.description) }
        var changes: [BatchApplier.Change] = []
        var rootInfo: FileInfo?
        var bytes: Int64 = 0
        // Files whose delta failed its whole-file check, and once asked for, the request.
        var redo = Set<RelativePath>()
        var redoing: [RelativePath]?
        while true {
            let (type, payload) = try reader.expect()
            var r = PayloadReader(payload)
            let name = BatchApplier.stagedName(changes.count)
            switch type {
            case .directory, .attributes:
                let raw = try r.string()
                let info = try Self.attributes(&r, kind: type == .directory ? .directory : .file)
                try r.end()
                if let path = try Self.path(raw) {
                    changes.append(type == .directory ? .directory(path, info) : .attributes(path, info))
                } else {
                    rootInfo = info
                }
            case .delete:
                guard let path = try Self.path(try r.string()) else { throw WireError("the module root cannot be deleted") }
                try r.end()
                changes.append(.remove(path))
            case .symlink:
                guard let path = try Self.path(try r.string()) else { throw WireError("empty path") }
                let destination = try r.string()
                let seconds = Int(try r.i64()), nanoseconds = Int(try r.u32() % 1_000_000_000)
                try r.end()
                guard !destination.isEmpty, !destination.utf8.contains(0) else { throw WireError("bad symlink destination for \(path)") }
                // Stored as a link and never followed: where it points is the tree's reader's business.
                guard symlinkat(destination, staged.staging.rootFD, name) == 0 else {
                    throw WireError("cannot stage symlink \(path): \(String(cString: strerror(errno)))")
                }
                var times = [timespec(tv_sec: seconds, tv_nsec: nanoseconds), timespec(tv_sec: seconds, tv_nsec: nanoseconds)]
                utimensat(staged.staging.rootFD, name, &times, AT_SYMLINK_NOFOLLOW)
                changes.append(.place(path))
            case .file:
                guard let path = try Self.path(try r.string()) else { throw WireError("empty path") }
                let info = try Self.attributes(&r, kind: .file)
                let hasBasis = try r.u8() == 1
                try r.end()
                if redoing != nil {
                    guard !hasBasis, redo.contains(path) else { throw WireError("\(path) was not asked for again whole") }
                    redo.remove(path)
                }
                switch try receiveFile(path, info: info, hasBasis: hasBasis, into: staged.staging, as: name) {
                case .staged(let written):
                    bytes += written
                    changes.append(.place(path))
                case .discarded:
                    break
                case .basisMismatch(let why):
                    logger.warning("batch \(id): \(path): \(why); asking for the whole file",
                                   metadata: ["module": "\(module.name)"])
                    redo.insert(path)
                }
            case .commit:
                try r.end()
                if redoing == nil, !redo.isEmpty {
                    // A delta that met another basis than its signature's: the sender sends
                    // those files again whole, which cannot fail that way, in this same batch.
                    redoing = redo.sorted { $0.description < $1.description }
                    try writer.send(.redo) { b in
                        b.varint(UInt64(redoing!.count))
                        for p in redoing! { b.string(p.description) }
                    }
                    try writer.flush()
                    continue
                }
                try commit(id: id, staged: staged, changes: changes, rootInfo: rootInfo, bytes: bytes)
                return
            default:
                throw WireError("unexpected \(type) frame in a batch")
            }
        }
    }

    /// Result codes of the result frame.
    enum ResultStatus: UInt8 { case applied = 0, unchanged = 1, rolledBack = 2, rejectedByAction = 3 }

    /// Commits a staged batch, runs the module's actions when it changed something
    /// (holding the commit point until they pass), and sends the result.
    private func commit(id: UInt64, staged: StagedBatch, changes: [BatchApplier.Change], rootInfo: FileInfo?, bytes: Int64) throws(WireError) {
        let counts: BatchApplier.Counts
        let hold = !actions.isEmpty
        do {
            counts = try staged.applier.commit(changes, rootInfo: rootInfo, holding: hold)
        } catch {
            logger.error("batch \(id) rolled back: \(error)", metadata: ["module": "\(module.name)"])
            try sendResult(.rolledBack, written: 0, deleted: 0, message: error.description, actions: [])
            return
        }
        let changed = counts.written + counts.deleted + counts.updated > 0
        var results: [ActionResult] = []
        if hold && changed {
            let undo = BatchUndo { () throws(TransferError) in try staged.applier.rollBackHeld() }
            let paths = changes.compactMap(\.renamed).map(\.description)
            results = ModuleActions.run(actions, context: ActionContext(module: module, paths: paths, logger: logger, undo: undo))
            if undo.done {
                let why = results.first { $0.outcome != .ok && $0.outcome != .skipped }.map { "\($0.name): \($0.summary)" } ?? "an action failed"
                logger.error("batch \(id) rolled back: \(why)", metadata: ["module": "\(module.name)"])
                try sendResult(.rejectedByAction, written: 0, deleted: 0, message: why, actions: results)
                return
            }
        }
        staged.applier.release()
        logger.info("batch \(id) applied", metadata: ["module": "\(module.name)", "written": "\(counts.written)",
                                                      "deleted": "\(counts.deleted)", "bytes": "\(bytes)"])
        try sendResult(changed ? .applied : .unchanged, written: counts.written, deleted: counts.deleted, message: "", actions: results)
    }

    private func sendResult(_ status: ResultStatus, written: Int, deleted: Int, message: String, actions: [ActionResult]) throws(WireError) {
        try writer.send(.result) { b in
            b.u8(status.rawValue)
            b.varint(UInt64(written))
            b.varint(UInt64(deleted))
            b.string(String(message.prefix(1000)))
            b.varint(UInt64(actions.count))
            for a in actions { a.encode(&b) }
        }
    }

    private static func attributes(_ r: inout PayloadReader, kind: FileInfo.Kind) throws(WireError) -> FileInfo {
        let mode = try r.u32() & 0o7777
        let seconds = Int(try r.i64())
        let nanoseconds = Int(try r.u32() % 1_000_000_000)
        return FileInfo(kind: kind, mode: mode, size: 0, mtimeSeconds: seconds, mtimeNanoseconds: nanoseconds)
    }

    /// What became of a file sent in a batch.
    private enum Received {
        /// Rebuilt into staging, this many bytes.
        case staged(Int64)
        /// The sender discarded it (the source changed while it was read).
        case discarded
        /// Its delta parsed but rebuilt another file than the sender's: the basis here is
        /// not the one the signature was made from, or a block shares its sums.
        case basisMismatch(String)
    }

    /// Rebuilds a file from DATA frames (a delta against the module's current file,
    /// or against nothing) into staging.
    private func receiveFile(_ path: RelativePath, info: FileInfo, hasBasis: Bool, into staging: TreeDirectory,
                             as name: String) throws(WireError) -> Received {
        let basis = hasBasis ? openBasis(path) : nil
        let basisFD = basis ?? open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { close(basisFD) }
        let out = openat(staging.rootFD, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard out >= 0 else { throw WireError("cannot stage \(path): \(String(cString: strerror(errno)))") }
        defer { close(out) }
        let reader = self.reader
        var keep: Bool?
        var failure: WireError?
        var pending: [UInt8] = []
        var pendingOffset = 0
        /// The next DATA payload; false at FILE_END.
        func nextData() throws(WireError) -> Bool {
            let (type, payload) = try reader.expect()
            switch type {
            case .data:
                pending = payload
                pendingOffset = 0
                return true
            case .fileEnd:
                var r = PayloadReader(payload)
                keep = try r.u8() == 1
                try r.end()
                return false
            default:
                throw WireError("unexpected \(type) frame inside a file")
            }
        }
        let frames = ByteReader(name: "delta of \(path)", capacity: 1 << 16) { (into) throws(DeltaError) in
            do throws(WireError) {
                while pendingOffset == pending.count {
                    if keep != nil { return 0 }
                    if try !nextData() { return 0 }
                }
                let n = min(into.count, pending.count - pendingOffset)
                pending.withUnsafeBytes { into.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[pendingOffset..<(pendingOffset + n)])) }
                pendingOffset += n
                return n
            } catch {
                failure = error
                throw DeltaError(error.message)
            }
        }
        var result: Received
        do throws(DeltaError) {
            let patcher = try DeltaPatcher(basis: basisFD, name: "\(module.path)/\(path)")
            result = .staged(try patcher.apply(reading: frames, writingTo: ByteWriter(fd: out, name: "staging")).newSize)
        } catch {
            if let failure { throw failure }
            guard error.kind == .basisMismatch, hasBasis else { throw WireError("\(path): \(error.message)") }
            result = .basisMismatch(error.message)
        }
        // Read up to FILE_END: a delta that ended (or failed) before it leaves frames behind.
        while keep == nil { _ = try nextData() }
        guard keep == true, case .staged = result else {
            unlinkat(staging.rootFD, name, 0)
            return keep == true ? result : .discarded
        }
        fchmod(out, mode_t(info.mode))
        var times = [info.timespec, info.timespec]
        futimens(out, &times)
        return result
    }
}
