#if canImport(Glibc)
import Glibc
#endif

/// A target reached through the wire protocol over a child process's standard input
/// and output: for `ssh://`, the system `ssh` running `runner receive` on the far
/// side. The connection is made on first use and dropped on any error, so the next
/// batch (a retry) reconnects.
public final class RemoteTarget {
    /// The target, for logs and hooks.
    public let uri: TargetURI
    /// The command that reaches the receiver (`ssh ... runner receive R.lua --module M`).
    public let command: [String]
    private var connection: Connection?
    private var batchID: UInt64 = 0

    private final class Connection {
        let pid: pid_t
        let reader: FrameReader
        let writer: FrameWriter
        let input: Int32
        let output: Int32

        init(pid: pid_t, input: Int32, output: Int32) {
            self.pid = pid
            self.input = input
            self.output = output
            reader = FrameReader(fd: input, name: "receiver")
            writer = FrameWriter(fd: output, name: "receiver")
        }

        deinit {
            close(output)
            close(input)
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

    /// A remote target reached by `command`.
    public init(uri: TargetURI, command: [String]) {
        self.uri = uri
        self.command = command
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
        var toChild: [Int32] = [-1, -1], fromChild: [Int32] = [-1, -1]
        guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else { throw WireError("pipe: \(String(cString: strerror(errno)))") }
        _ = fcntl(toChild[1], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fromChild[0], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        posix_spawn_file_actions_addclose(&actions, toChild[0])
        posix_spawn_file_actions_addclose(&actions, fromChild[1])
        let argv = command.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid = pid_t()
        let rc = posix_spawnp(&pid, command[0], &actions, nil, argv, environ)
        close(toChild[0])
        close(fromChild[1])
        guard rc == 0 else {
            close(toChild[1])
            close(fromChild[0])
            throw WireError("cannot run \(command[0]): \(String(cString: strerror(rc)))")
        }
        let c = Connection(pid: pid, input: fromChild[0], output: toChild[1])
        try c.writer.send(.hello) { b in
            b.u32(0x5052_4E52)  // "RNRP"
            b.u32(UInt32(WireLimits.version))
            b.u32(UInt32(c.writer.limits.maxFrame))
            b.string(moduleName)
        }
        try c.writer.flush()
        let (type, payload) = try c.reader.expect()
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
        let chunk = c.writer.limits.maxFrame - 16
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
                let fd = open(FS.join(source, path), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else {
                    outcome.retry.append(path)  // gone or replaced since the plan: the next batch has it
                    continue
                }
                defer { close(fd) }
                var before = stat()
                fstat(fd, &before)
                let info = FileInfo(before)
                let signature = signatures[path]
                try c.writer.send(.file) { b in
                    b.string(path)
                    Self.attributes(&b, info)
                    b.u8(signature == nil ? 0 : 1)
                }
                let writer = c.writer
                var failure: WireError?
                let frames = ByteWriter(name: "delta of \(path)", capacity: chunk) { (bytes) throws(DeltaError) in
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
                if keep { outcome.bytes += encoder.stats.deltaBytes } else { outcome.retry.append(path) }
            }
        }
        try c.writer.send(.commit)
        try c.writer.flush()
        let (type, payload) = try c.reader.expect()
        guard type == .result else { throw WireError("expected a result, got \(type)") }
        var r = PayloadReader(payload)
        let status = try r.u8()
        outcome.written = Int(try r.varint())
        outcome.deleted = Int(try r.varint())
        let message = try r.string(limit: 4096)
        guard status != 2 else { throw TransferError("the receiver rolled the batch back: \(message)", path: "\(uri)") }
        return outcome
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
