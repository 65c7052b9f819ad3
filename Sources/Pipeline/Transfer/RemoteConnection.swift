import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// One open session with a receiver: over TCP to `runner serve` (`runner://`), or over
/// the standard input and output of a child process (`ssh://`: the system `ssh` running
/// `runner receive` on the far side). Opening it is the handshake: hello, the auth
/// challenge when the module asks for one, and the welcome with the agreed limits.
final class RemoteConnection {
    let reader: FrameReader
    let writer: FrameWriter
    /// What the session is doing, for a timeout's message; every read and write gives up
    /// after `timeout` seconds without progress.
    let clock: StepClock
    private let pid: pid_t?
    private let input: Int32
    private let output: Int32

    private init(pid: pid_t?, input: Int32, output: Int32, uri: TargetURI, timeout: Double) {
        self.pid = pid
        self.input = input
        self.output = output
        let clock = StepClock(uri: uri, timeout: timeout)
        self.clock = clock
        reader = FrameReader(
            ByteReader(name: "\(uri)", capacity: 1 << 16) { (into) throws(DeltaError) in
                try clock.read(input, into)
            })
        writer = FrameWriter(
            ByteWriter(name: "\(uri)", capacity: 1 << 16) { (bytes) throws(DeltaError) in
                try clock.write(output, bytes)
            })
    }

    deinit {
        Glibc.close(output)
        Glibc.close(input)
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

    /// Connects to `uri` (over TCP for `runner://`, else by running `command`) and opens
    /// the session; each step gives up after `timeout` seconds.
    static func open(
        _ uri: TargetURI, command: [String], credentials: (user: String, secret: String)?,
        timeout: Double, numericIDs: Bool = false, token: UInt64 = 0, dialed: Int32? = nil
    ) throws(WireError) -> RemoteConnection {
        let c: RemoteConnection
        var user = credentials?.user ?? ""
        switch uri {
        case .runner(let host, let port, _):
            let fd = try tcpConnect(host: host, port: port, timeout: timeout)
            c = RemoteConnection(pid: nil, input: fd, output: dup(fd), uri: uri, timeout: timeout)
        case .ssh(let sshUser, _, _, _):
            user = sshUser ?? ""
            c = try spawn(command, uri: uri, timeout: timeout)
        case .dial:
            // The receiver's connection, authenticated when it dialed; the session opens on it
            // as on one the sender made.
            guard let fd = dialed else { preconditionFailure("\(uri) without its connection") }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            c = RemoteConnection(pid: nil, input: fd, output: dup(fd), uri: uri, timeout: timeout)
        case .file, .rsync:
            preconditionFailure("\(uri) is no runner receiver")
        }
        try c.handshake(uri, user: user, credentials: credentials, token: token)
        // Owners by name both ways: the listing's in this host's ids, ours in the receiver's.
        let owners = OwnerTable(numeric: numericIDs)
        c.reader.owners = owners
        c.writer.owners = owners
        return c
    }

    private func handshake(
        _ uri: TargetURI, user: String, credentials: (user: String, secret: String)?, token: UInt64
    ) throws(WireError) {
        clock.step = "waiting for the receiver's welcome"
        try writer.send(
            .hello(
                version: UInt32(WireLimits.version), maxFrame: writer.limits.maxFrame, module: uri.module, user: user,
                token: token))
        try writer.flush()
        var reply: WireMessage
        do { reply = try reader.receive() } catch  where error.refusal == "access denied" {
            throw WireError(
                "access refused at \(uri) (no such module, or this address is not in its hosts_allow; the receiver's log says which)"
            )
        }
        if case .challenge(let nonce) = reply {
            guard let credentials else {
                throw WireError("\(uri) asks for auth: set auth = { user = ..., secret_file = ... } in the pipeline")
            }
            let proof = AuthProof.response(
                secret: credentials.secret, nonce: nonce, module: uri.module, user: credentials.user)
            clock.step = "waiting for the answer to authentication"
            try writer.send(.auth(proof: proof))
            try writer.flush()
            do { reply = try reader.receive() } catch  where error.refusal == "access denied" {
                throw WireError(
                    "authentication failed at \(uri) (wrong user or wrong secret; the receiver's log says which)")
            }
        }
        guard case let .welcome(version, maxFrame, _) = reply else {
            throw WireError("expected welcome, got \(reply.frameType)")
        }
        guard version == UInt32(WireLimits.version), (4096...WireLimits.ceiling).contains(maxFrame) else {
            throw WireError("receiver speaks version \(version) with frames of \(maxFrame) bytes")
        }
        reader.limits.maxFrame = maxFrame
        writer.limits.maxFrame = maxFrame
    }

    /// Whether the receiver closed its end (its session ended while this one idled).
    var peerHungUp: Bool { SocketPeer.hasHungUp(input) }

    /// Sends a message and flushes.
    func request(_ message: WireMessage) throws(WireError) {
        try writer.send(message)
        try writer.flush()
    }

    /// Why the receiver closed the connection a write then failed on: the ERROR it sent
    /// first (a full disk, a refused path), still to read behind the broken pipe; nil when
    /// no write failed or it said nothing.
    func lastWords() -> String? {
        guard writer.broken else { return nil }
        for _ in 0..<16 {
            guard case .some(let message) = try? reader.next() else { return nil }
            if case .error(let text) = message { return text }
        }
        return nil
    }

    /// Ends the session: the receiver sees BYE, then its input close.
    func close() {
        try? writer.send(.bye)
        try? writer.flush()
    }

    private static func spawn(_ command: [String], uri: TargetURI, timeout: Double) throws(WireError)
        -> RemoteConnection
    {
        var toChild: [Int32] = [-1, -1], fromChild: [Int32] = [-1, -1]
        guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else { throw WireError("pipe: \(SystemError.text())") }
        // Our ends: close-on-exec, and non-blocking (every wait is a poll with a deadline).
        for fd in [toChild[1], fromChild[0]] {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        defer {
            Glibc.close(toChild[0])
            Glibc.close(fromChild[1])
        }
        do {
            let pid = try ChildProcess.spawn(command, stdin: toChild[0], stdout: fromChild[1], search: true)
            return RemoteConnection(pid: pid, input: fromChild[0], output: toChild[1], uri: uri, timeout: timeout)
        } catch {
            Glibc.close(toChild[1])
            Glibc.close(fromChild[0])
            throw WireError("cannot run \(command[0]): \(error.code.map { SystemError.text($0) } ?? error.reason)")
        }
    }

    /// Connects within `timeout` seconds; TCP_NODELAY, since a batch is a conversation of small frames.
    static func tcpConnect(host: String, port: Int, timeout: Double) throws(WireError) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw WireError("cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            ai = a.pointee.ai_next
            let fd = socket(
                a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), a.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            if Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) != 0 && errno != EINPROGRESS {
                lastError = String(cString: strerror(errno))
                Glibc.close(fd)
                continue
            }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if poll(&p, 1, Int32(timeout * 1000)) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0
                || error != 0
            {
                lastError =
                    error != 0
                    ? String(cString: strerror(error)) : "timed out after \(MonotonicClock.text(seconds: timeout))"
                Glibc.close(fd)
                continue
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return fd
        }
        throw WireError("cannot connect to \(host):\(port): \(lastError)")
    }

}
