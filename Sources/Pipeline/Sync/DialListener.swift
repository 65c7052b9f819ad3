import Logging
import RunnerSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The sender's listener for receivers that dial in (`settings { listen }`, `dial://`
/// targets): on a thread of its own it accepts, turns a flood away as `runner serve` does
/// (`StartupGate`, refusals summed per interval), and runs each handshake on a short thread
/// that the listener cuts off at `handshake_timeout`. A dialer that proves its name's secret
/// (and is proved the sender's, `AuthProof.dial`) is parked on the `DialBoard` for its
/// pipeline; an unknown name, a wrong secret or a name connected already is refused, and
/// the log says which.
public final class DialListener: Sendable {
    private final class Pending: Sendable {
        let fd: Int32
        let peer: String
        let deadline: Double
        init(fd: Int32, peer: String, deadline: Double) {
            (self.fd, self.peer, self.deadline) = (fd, peer, deadline)
        }
    }

    private struct State {
        var pending: [ObjectIdentifier: Pending] = [:]
        var refusals = RefusalTally()
        var stopped = false
    }

    /// The address listened on (the port resolved when 0 was asked).
    public let address: String
    private let socket: ListeningSocket
    private let board: DialBoard
    private let gate: StartupGate
    private let handshakeTimeout: Double
    private let logger: Logger
    private let state = Mutex(State())
    private let stop: Wakeup

    /// Listens on `listen`; `start` serves it.
    public init(
        listen: String, board: DialBoard, handshakeTimeout: Double, startups: StartupLimits, logger: Logger
    ) throws {
        socket = try ListeningSocket(listen, nonBlocking: true)
        address = socket.address
        self.board = board
        gate = StartupGate(limits: startups, maxConnections: Int.max / 4)
        self.handshakeTimeout = handshakeTimeout
        self.logger = logger
        stop = try Wakeup()
    }

    /// Starts the accepting thread.
    public func start() throws(SystemError) {
        logger.notice("listening for dial-in receivers on \(address)")
        let thread = try WorkerThread()
        thread.run { [self] in serve() }
    }

    /// Ends the accepting thread (handshakes under way end at their deadline).
    public func shutdown() {
        state.withLock { $0.stopped = true }
        stop.signal()
    }

    private func serve() {
        while !state.withLock({ $0.stopped }) {
            var fds = [
                pollfd(fd: socket.descriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stop.descriptor, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&fds, 2, 250)
            let now = MonotonicClock.now
            cutOff(now: now)
            if let line = state.withLock({ $0.refusals.flush(now: now) }) { logger.warning("\(line)") }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            while let (client, peer) = socket.accept() { admit(client, peer, now: now) }
        }
    }

    /// Handshakes past their deadline: their connection is shut down, which ends their thread.
    private func cutOff(now: Double) {
        let late = state.withLock { s in
            s.pending.values.filter { $0.deadline <= now }.map { p in
                Glibc.shutdown(p.fd, Int32(SHUT_RDWR))
                return p.peer
            }
        }
        for peer in late { refused("did not authenticate within handshake_timeout", peer, now: now) }
    }

    private func admit(_ client: Int32, _ peer: String, now: Double) {
        let refusal = state.withLock { s in
            let waiting = s.pending.values
            return gate.admit(
                unauthenticated: waiting.count, fromAddress: waiting.count { $0.peer == peer }, authenticated: 0,
                draw: Double.random(in: 0..<1))
        }
        if let refusal {
            close(client)
            refused(refusal.rawValue, peer, now: now)
            return
        }
        let pending = Pending(fd: client, peer: peer, deadline: now + handshakeTimeout)
        state.withLock { $0.pending[ObjectIdentifier(pending)] = pending }
        do {
            let thread = try WorkerThread()
            thread.run { [self] in
                let parked = handshake(pending)
                // Off the list before its descriptor is closed or handed on: the cut-off
                // never touches a number that another connection may get.
                state.withLock { _ = $0.pending.removeValue(forKey: ObjectIdentifier(pending)) }
                if !parked { close(pending.fd) }
            }
        } catch {
            state.withLock { _ = $0.pending.removeValue(forKey: ObjectIdentifier(pending)) }
            close(client)
            logger.error("cannot serve a dial-in from \(peer): \(error)")
        }
    }

    private func refused(_ reason: String, _ peer: String, now: Double) {
        if let line = state.withLock({ $0.refusals.refused(reason, address: peer, now: now) }) {
            logger.warning("\(line)")
        }
    }

    /// The sender's side of a dial: returns whether the connection was parked (the board owns it).
    private func handshake(_ p: Pending) -> Bool {
        _ = fcntl(p.fd, F_SETFL, fcntl(p.fd, F_GETFL) & ~O_NONBLOCK)
        let reader = FrameReader(fd: p.fd, name: p.peer), writer = FrameWriter(fd: p.fd, name: p.peer)
        var claimed = ""
        do {
            guard case let .dial(version, pipeline, name, module, once, nonce) = try reader.receive() else {
                throw WireError("expected a dial")
            }
            let target = TargetURI.dial(name: name, module: module)
            claimed = "\(target) of pipeline '\(pipeline)'"
            guard version == UInt32(WireLimits.version) else {
                throw WireError(
                    "protocol version \(version) is not supported (this sender speaks \(WireLimits.version))")
            }
            let secret = try board.secret(pipeline: pipeline, name: name, module: module)
            let mine = AuthProof.nonce()
            try writer.send(
                .dialProof(
                    proof: AuthProof.dial(
                        secret: secret, side: "sender", nonce: nonce, pipeline: pipeline, name: name, module: module),
                    nonce: mine))
            try writer.flush()
            // A dialer whose secret differs finds our proof wrong and hangs up without its own.
            guard case .auth(let proof)? = try? reader.receive() else { throw WrongSecret(name: name) }
            guard
                AuthProof.verifyDial(
                    proof, secret: secret, side: "receiver", nonce: mine, pipeline: pipeline, name: name,
                    module: module)
            else { throw WrongSecret(name: name) }
            try board.park(p.fd, pipeline: pipeline, target: target, peer: p.peer, once: once)
            logger.notice(
                "\(target) dialed in from \(p.peer)\(once ? " (once)" : "")", metadata: ["pipeline": "\(pipeline)"])
            return true
        } catch let refusal as DialBoard.Refusal {
            logger.warning("refused a dial-in from \(p.peer): \(refusal)")
            if case .inUse = refusal { writer.sayError("\(refusal)") } else { writer.sayError("access denied") }
        } catch let wrong as WrongSecret {
            logger.warning(
                "refused a dial-in from \(p.peer): wrong secret for '\(wrong.name)' (its secret and dial_secrets' differ)"
            )
            writer.sayError("access denied")
        } catch {
            logger.info("a dial-in from \(p.peer) ended: \(error)\(claimed.isEmpty ? "" : " (claiming \(claimed))")")
        }
        return false
    }

    private struct WrongSecret: Error {
        let name: String
    }
}
