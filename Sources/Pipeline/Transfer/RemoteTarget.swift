#if canImport(Glibc)
import Glibc
#endif

/// A target reached through the wire protocol: over TCP to `runner serve` for
/// `runner://`, or over a child process's standard input and output for `ssh://`
/// (the system `ssh` running `runner receive` on the far side). The connection is made
/// on first use and dropped on any error, so the next batch (a retry) reconnects.
public final class RemoteTarget {
    /// The target, for logs and hooks.
    public let uri: TargetURI
    /// The command that reaches the receiver (`ssh ... runner receive R.lua --module M`); empty for TCP.
    public let command: [String]
    /// The user and secret for `runner://` (the secret never crosses the wire).
    private let credentials: (user: String, secret: String)?
    private var connection: Connection?
    private var batchID: UInt64 = 0

    private final class Connection {
        let pid: pid_t?
        let reader: FrameReader
        let writer: FrameWriter
        let input: Int32
        let output: Int32

        init(pid: pid_t?, input: Int32, output: Int32) {
            self.pid = pid
            self.input = input
            self.output = output
            reader = FrameReader(fd: input, name: "receiver")
            writer = FrameWriter(fd: output, name: "receiver")
        }

        deinit {
            close(output)
            close(input)
            guard let pid else { return }
            var status: Int32 = 0
            // The receiver exits when its input closes; do not wait on a hung one forever.
            for _ in 0..<200 {
                if waitpid(pid, &status, WNOHANG) != 0 { return }
                usleep(10_000)
            }
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
        }
    }

    /// A remote target reached by `command` (ssh), or over TCP when `command` is empty.
    public init(uri: TargetURI, command: [String], credentials: (user: String, secret: String)? = nil) {
        self.uri = uri
        self.command = command
        self.credentials = credentials
    }

    /// The ssh command line for an `ssh://` target.
    public static func sshCommand(user: String?, host: String, port: Int?, module: String, ssh: [String], runner: String,
                                  receiver: String) -> [String] {
        var argv = ssh + ["-o", "BatchMode=yes"]
        if let port { argv += ["-p", String(port)] }
        if let user { argv += ["-l", user] }
        return argv + [host, "--", runner, "receive", receiver, "--module", module]
    }

    private func connect() throws(WireError) -> Connection {
        if let connection { return connection }
        let c: Connection
        if case .runner(let host, let port, _) = uri {
            let fd = try RemoteTarget.tcpConnect(host: host, port: port)
            c = Connection(pid: nil, input: fd, output: dup(fd))
        } else {
            c = try spawn()
        }
        try c.writer.send(.hello) { b in
            b.u32(0x5052_4E52)  // "RNRP"
            b.u32(UInt32(WireLimits.version))
            b.u32(UInt32(c.writer.limits.maxFrame))
            b.string(moduleName)
            b.string(user)
        }
        try c.writer.flush()
        var (type, payload) = try c.reader.expect()
        if type == .challenge {
            (type, payload) = try answer(payload, over: c)
        }
        guard type == .welcome else { throw WireError("expected welcome, got \(type)") }
        var r = PayloadReader(payload)
        let version = try r.u32()
        let maxFrame = Int(try r.u32())
        _ = try r.u32()
        guard version == UInt32(WireLimits.version), (4096...WireLimits.ceiling).contains(maxFrame) else {
            throw WireError("receiver speaks version \(version) with frames of \(maxFrame) bytes")
        }
        c.reader.limits.maxFrame = maxFrame
        c.writer.limits.maxFrame = maxFrame
        connection = c
        return c
    }

    /// Answers the receiver's challenge: HMAC-SHA256 of its fresh nonce, bound to the module and user.
    private func answer(_ challenge: [UInt8], over c: Connection) throws(WireError) -> (FrameType, [UInt8]) {
        var r = PayloadReader(challenge)
        let nonce = Array(r.rest())
        guard nonce.count == 32 else { throw WireError("malformed challenge") }
        guard let credentials else { throw WireError("the receiver asks for auth: set auth = { user = ..., secret_file = ... }") }
        let proof = AuthProof.response(secret: credentials.secret, nonce: nonce, module: moduleName, user: credentials.user)
        try c.writer.send(.auth) { b in proof.withUnsafeBytes { b.raw($0) } }
        try c.writer.flush()
        return try c.reader.expect()
    }

    /// Connects with a 10 s deadline; TCP_NODELAY, since a batch is a conversation of small frames.
    private static func tcpConnect(host: String, port: Int) throws(WireError) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else { throw WireError("cannot resolve \(host): \(String(cString: gai_strerror(rc)))") }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            ai = a.pointee.ai_next
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), a.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            if Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) != 0 && errno != EINPROGRESS {
                lastError = String(cString: strerror(errno))
                close(fd)
                continue
            }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if poll(&p, 1, 10_000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0 {
                lastError = error != 0 ? String(cString: strerror(error)) : "timed out"
                close(fd)
                continue
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            var tv = timeval(tv_sec: 600, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            return fd
        }
        throw WireError("cannot connect to \(host):\(port): \(lastError)")
    }

    private func spawn() throws(WireError) -> Connection {
        var toChild: [Int32] = [-1, -1], fromChild: [Int32] = [-1, -1]
        guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else { throw WireError("pipe: \(String(cString: strerror(errno)))") }
        _ = fcntl(toChild[1], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fromChild[0], F_SETFD, FD_CLOEXEC)
        let spawned = ChildProcess.spawn(command, stdin: toChild[0], stdout: fromChild[1], search: true)
        close(toChild[0])
        close(fromChild[1])
        guard case .success(let pid) = spawned else {
            close(toChild[1])
            close(fromChild[0])
            if case .failure(let e) = spawned { throw WireError("cannot run \(command[0]): \(e)") }
            throw WireError("cannot run \(command[0])")
        }
        return Connection(pid: pid, input: fromChild[0], output: toChild[1])
    }

    private var user: String {
        if case .ssh(let user, _, _, _) = uri { return user ?? "" }
        return credentials?.user ?? ""
    }

    private var moduleName: String {
        switch uri {
        case .ssh(_, _, _, let module), .runner(_, _, let module): return module
        case .file(let path): return path
        }
    }

    /// Forgets the connection (after an error, or at shutdown): the receiver sees its input close.
    public func disconnect() {
        if let c = connection {
            try? c.writer.send(.bye)
            try? c.writer.flush()
        }
        connection = nil
    }

    /// Asks the receiver for its listing of what the paths touch and plans against it.
    func plan(paths: [String]?, source: String, filter: Filter, delete: Bool) throws -> (SyncPlan, RemoteListing) {
        do {
            let c = try connect()
            let scanned = paths ?? [""]
            try c.writer.send(.scan) { b in
                b.varint(UInt64(scanned.count))
                for p in scanned { b.string(p) }
            }
            try c.writer.flush()
            var listing = RemoteListing()
            while true {
                let (type, payload) = try c.reader.expect()
                if type == .scanEnd { break }
                guard type == .entry else { throw WireError("expected an entry, got \(type)") }
                listing.add(try WireEntry.decode(payload))
            }
            let plan = try SyncPlanner(source: source, view: listing, filter: filter, delete: delete).plan(paths: paths)
            return (plan, listing)
        } catch {
            disconnect()
            throw error
        }
    }

    /// What the receiver's module runs after each batch (for `--dry-run`), one line each.
    func describeActions() throws -> [String] {
        do {
            let c = try connect()
            try c.writer.send(.actions)
            try c.writer.flush()
            let (type, payload) = try c.reader.expect()
            guard type == .actionList else { throw WireError("expected the action list, got \(type)") }
            var r = PayloadReader(payload)
            let count = try r.varint()
            guard count <= 1000 else { throw WireError("\(count) actions is over the limit") }
            var lines: [String] = []
            for _ in 0..<count { lines.append(try r.string(limit: 4096)) }
            try r.end()
            return lines
        } catch {
            disconnect()
            throw error
        }
    }

    /// Sends a planned batch (deltas against the receiver's files where it has them)
    /// and returns what the receiver committed.
    func apply(_ plan: SyncPlan, listing: RemoteListing, from source: String, cancelled: () -> Bool) throws -> LocalTarget.Outcome {
        do {
            return try send(plan, listing: listing, from: source, cancelled: cancelled)
        } catch {
            disconnect()
            throw error
        }
    }

    private func send(_ plan: SyncPlan, listing: RemoteListing, from source: String, cancelled: () -> Bool) throws -> LocalTarget.Outcome {
        let c = try connect()
        var outcome = LocalTarget.Outcome()
        // Small files and files the receiver lacks go whole: no signature round trip.
        var wanted: [String] = []
        for op in plan.operations {
            if case .copy(let path, let info) = op, let basis = listing.info(path), basis.kind == .file,
               basis.size >= 4096 || info.size >= 4096 {
                wanted.append(path)
            }
        }
        let signatures = try fetchSignatures(wanted, over: c)
        if cancelled() { throw TransferError("batch abandoned before it was sent (shutdown)", path: "\(uri)") }

        batchID &+= 1
        try c.writer.send(.batch) { $0.u64(batchID) }
        for op in plan.operations {
            switch op {
            case .directory(let path, let info), .attributes(let path, let info):
                let type: FrameType = { if case .directory = op { return .directory } else { return .attributes } }()
                try c.writer.send(type) { b in
                    b.string(path)
                    Self.attributes(&b, info)
                }
            case .delete(let path):
                try c.writer.send(.delete) { $0.string(path) }
            case .symlink(let path, let destination, let info):
                try c.writer.send(.symlink) { b in
                    b.string(path)
                    b.string(destination)
                    b.i64(Int64(info.mtimeSeconds))
                    b.u32(UInt32(info.mtimeNanoseconds))
                }
            case .copy(let path, _):
                if let bytes = try sendFile(path, from: source, signature: signatures[path], over: c) {
                    outcome.bytes += bytes
                } else {
                    outcome.retry.append(path)
                }
            }
        }
        try c.writer.send(.commit)
        try c.writer.flush()
        var (type, payload) = try c.reader.expect()
        if type == .redo {
            // Files whose delta rebuilt something else at the receiver go again whole.
            var r = PayloadReader(payload)
            let count = try r.varint()
            guard count >= 1, count <= UInt64(signatures.count) else { throw WireError("a redo of \(count) files is out of range") }
            for _ in 0..<count {
                let path = try r.string()
                guard signatures[path] != nil, !outcome.resent.contains(path) else {
                    throw WireError("the receiver asked again for \(path), which it had no delta for")
                }
                outcome.resent.append(path)
            }
            try r.end()
            for path in outcome.resent {
                if let bytes = try sendFile(path, from: source, signature: nil, over: c) {
                    outcome.bytes += bytes
                } else {
                    outcome.retry.append(path)
                }
            }
            try c.writer.send(.commit)
            try c.writer.flush()
            (type, payload) = try c.reader.expect()
        }
        guard type == .result else { throw WireError("expected a result, got \(type)") }
        var r = PayloadReader(payload)
        let status = try r.u8()
        outcome.written = Int(try r.varint())
        outcome.deleted = Int(try r.varint())
        let message = try r.string(limit: 4096)
        if r.remaining > 0 {
            let count = try r.varint()
            guard count <= 1000 else { throw WireError("\(count) action results is over the limit") }
            for _ in 0..<count { outcome.actions.append(try ActionResult.decode(&r)) }
        }
        try r.end()
        switch status {
        case 2: throw TransferError("the receiver rolled the batch back: \(message)", path: "\(uri)")
        case 3: outcome.rolledBack = message
        default: break
        }
        return outcome
    }

    /// Sends one file as a delta against `signature` (or whole); returns the delta's size,
    /// or nil when the file is gone or changed while it was read (a later batch sends it).
    private func sendFile(_ path: String, from source: String, signature: Signature?, over c: Connection) throws -> Int64? {
        let fd = open(FS.join(source, path), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }  // gone or replaced since the plan
        defer { close(fd) }
        var before = stat()
        fstat(fd, &before)
        let info = FileInfo(before)
        try c.writer.send(.file) { b in
            b.string(path)
            Self.attributes(&b, info)
            b.u8(signature == nil ? 0 : 1)
        }
        let writer = c.writer
        var failure: WireError?
        let frames = ByteWriter(name: "delta of \(path)", capacity: c.writer.limits.maxFrame - 16) { (bytes) throws(DeltaError) in
            do throws(WireError) { try writer.send(.data) { $0.raw(bytes) } } catch {
                failure = error
                throw DeltaError(error.message)
            }
        }
        let encoder = DeltaEncoder(signature: signature ?? .none, writer: frames)
        do throws(DeltaError) {
            try encoder.encode(reading: ByteReader(fd: fd, name: FS.join(source, path)))
        } catch {
            if let failure { throw failure }
            throw TransferError(error.message, path: FS.join(source, path))
        }
        var after = stat()
        fstat(fd, &after)
        // A file that changed while it was read is discarded by the receiver and sent again later.
        let keep = FileInfo(after) == info && encoder.stats.newSize == info.size
        try c.writer.send(.fileEnd) { $0.u8(keep ? 1 : 0) }
        return keep ? encoder.stats.deltaBytes : nil
    }

    private static func attributes(_ b: inout PayloadBuilder, _ info: FileInfo) {
        b.u32(info.mode)
        b.i64(Int64(info.mtimeSeconds))
        b.u32(UInt32(info.mtimeNanoseconds))
    }

    private func fetchSignatures(_ paths: [String], over c: Connection) throws -> [String: Signature] {
        guard !paths.isEmpty else { return [:] }
        try c.writer.send(.signatures) { b in
            b.varint(UInt64(paths.count))
            for p in paths { b.string(p) }
        }
        try c.writer.flush()
        var result: [String: Signature] = [:]
        var current: [UInt8] = []
        var done = 0
        while done < paths.count {
            let (type, payload) = try c.reader.expect()
            var r = PayloadReader(payload)
            let index = Int(try r.varint())
            guard index == done else { throw WireError("signature \(index) out of order") }
            switch type {
            case .signatureData:
                current += r.rest()
                guard current.count <= 64 << 20 else { throw WireError("signature larger than 64 MiB") }
            case .signatureEnd:
                if try r.u8() == 1 {
                    let bytes = current
                    var offset = 0
                    let reader = ByteReader(name: "signature of \(paths[index])") { (into) throws(DeltaError) in
                        let n = min(into.count, bytes.count - offset)
                        bytes.withUnsafeBytes { into.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)])) }
                        offset += n
                        return n
                    }
                    result[paths[index]] = try Signature.read(from: reader)
                }
                current = []
                done += 1
            default:
                throw WireError("expected signatures, got \(type)")
            }
        }
        return result
    }
}
