import Logging
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The receiver's side of a dial (`upstream`): connects to the sender, claims its name,
/// checks that the sender proves the name's secret (no file is served to a sender that does
/// not know it), and proves it in turn. The connection it returns then carries a session as
/// one `runner serve` accepted: the sender's HELLO comes next (or its refusal).
public enum UpstreamDial {
    /// In a dial's child process: dials `upstream` for `module` and serves the session that
    /// follows; returns the exit status that tells the daemon how it went (`DialSchedule`).
    public static func serve(
        modules: [ServedModule], module: String, upstream: ReceiverModule.Upstream, handshakeTimeout: Double,
        idleTimeout: Double, logger: Logger, report: SessionReport
    ) -> Int32 {
        var logger = logger
        logger[metadataKey: "module"] = "\(module)"
        logger[metadataKey: "peer"] = "\(upstream.url)"
        let fd: Int32
        do { fd = try connect(upstream, module: module, timeout: handshakeTimeout) } catch {
            logger.warning("cannot dial \(upstream.url) as \(upstream.name): \(error)")
            return DialSchedule.status(error.outcome)
        }
        defer { close(fd) }
        logger.info("dialed \(upstream.url) as \(upstream.name)")
        do {
            try ReceiverSession.serve(
                modules: modules,
                mode: .dialed(module: module, handshakeTimeout: handshakeTimeout, idleTimeout: idleTimeout),
                input: fd, output: fd, logger: logger, report: report)
            return DialSchedule.status(.served)
        } catch  where error.refusal != nil {
            logger.warning("\(upstream.url) refused '\(upstream.name)': \(error.refusal!)")
            return DialSchedule.status(.refused)
        } catch {
            return DialSchedule.status(.served)
        }
    }

    /// `runner pull --once`: dials `upstream` for `module` saying so, serves the session
    /// until the sender ends it, and returns nil when it ended with the module at its
    /// approved revision, else why not.
    public static func pullOnce(
        modules: [ServedModule], module: String, upstream: ReceiverModule.Upstream, timeout: Double,
        idleTimeout: Double, logger: Logger
    ) -> String? {
        let fd: Int32
        do { fd = try connect(upstream, module: module, timeout: timeout, once: true) } catch {
            return "cannot dial \(upstream.url) as \(upstream.name): \(error)"
        }
        defer { close(fd) }
        do {
            let done = try ReceiverSession.serve(
                modules: modules, mode: .dialed(module: module, handshakeTimeout: timeout, idleTimeout: idleTimeout),
                input: fd, output: fd, logger: logger)
            return done ? nil : "the sender closed the session before the module was at its approved revision"
        } catch {
            return error.refusal ?? error.message
        }
    }

    /// Why a dial did not give a connection.
    struct Failure: Error, CustomStringConvertible {
        let description: String
        let outcome: DialSchedule.Outcome
    }

    /// Dials `upstream` for `module`; every step gives up after `timeout` seconds.
    static func connect(_ upstream: ReceiverModule.Upstream, module: String, timeout: Double, once: Bool = false)
        throws(Failure) -> Int32
    {
        guard case .runner(let host, let port, let pipeline) = upstream.url else {
            throw Failure(description: "upstream \(upstream.url) is no runner:// address", outcome: .refused)
        }
        let secret: String
        do {
            secret = try SecretsFile.readSenderSecret(upstream.secretFile, user: upstream.name, at: nil)
        } catch {
            throw Failure(description: "\(error)", outcome: .refused)
        }
        let fd: Int32
        do { fd = try RemoteConnection.tcpConnect(host: host, port: port, timeout: timeout) } catch {
            throw Failure(description: error.message, outcome: .failed)
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        ReceiverSession.setReceiveTimeout(fd, timeout)
        keepAlive(fd)
        do throws(Failure) {
            try prove(over: fd, upstream, secret: secret, pipeline: pipeline, module: module, once: once)
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    /// The dial's exchange: our name and nonce, the sender's proof and nonce, our proof.
    private static func prove(
        over fd: Int32, _ upstream: ReceiverModule.Upstream, secret: String, pipeline: String, module: String,
        once: Bool
    ) throws(Failure) {
        let reader = FrameReader(fd: fd, name: "\(upstream.url)"), writer = FrameWriter(fd: fd, name: "\(upstream.url)")
        let nonce = AuthProof.nonce()
        let reply: WireMessage
        do throws(WireError) {
            try writer.send(
                .dial(
                    version: UInt32(WireLimits.version), pipeline: pipeline, name: upstream.name, module: module,
                    once: once, nonce: nonce))
            try writer.flush()
            reply = try reader.receive()
        } catch {
            if let refusal = error.refusal {
                throw Failure(
                    description:
                        "the sender refused '\(upstream.name)': \(refusal) (an unknown name or a wrong secret; the sender's log says which)",
                    outcome: .refused)
            }
            throw Failure(description: error.message, outcome: .failed)
        }
        guard case let .dialProof(proof, theirs) = reply else {
            throw Failure(description: "expected the sender's proof, got \(reply.frameType)", outcome: .failed)
        }
        guard
            AuthProof.verifyDial(
                proof, secret: secret, side: "sender", nonce: nonce, pipeline: pipeline, name: upstream.name,
                module: module)
        else {
            throw Failure(
                description: "the sender did not prove the secret of '\(upstream.name)': not served", outcome: .refused)
        }
        do throws(WireError) {
            try writer.send(
                .auth(
                    proof: AuthProof.dial(
                        secret: secret, side: "receiver", nonce: theirs, pipeline: pipeline, name: upstream.name,
                        module: module)))
            try writer.flush()
        } catch {
            throw Failure(description: error.message, outcome: .failed)
        }
    }

    /// A sender that vanishes without closing (a crash, a cut link) is noticed within a
    /// minute, and the module dials again.
    private static func keepAlive(_ fd: Int32) {
        var on: Int32 = 1, idle: Int32 = 30, interval: Int32 = 10, count: Int32 = 3
        let size = socklen_t(MemoryLayout<Int32>.size)
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, &idle, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, &interval, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, &count, size)
    }
}
