import CLinux
import Logging
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// `runner serve`: accepts TCP connections and serves each in a child process forked
/// for it, as rsync's daemon does. A session that crashes or is killed takes nothing
/// else with it, the blocking session code needs no event loop, and the child shares
/// the daemon's loaded configuration and code pages instead of starting afresh.
/// Forking is safe because the daemon is single-threaded (`RunControl` reads signals
/// from a signalfd; nothing else starts a thread).
public final class ReceiverDaemon {
    /// Nil when every module dials its sender and no `listen` was asked for.
    private let listener: ListeningSocket?
    /// The address actually listened on (`host:port`, the port resolved when 0 was asked).
    public var address: String { listener?.address ?? "nowhere" }
    let logger: Logger
    /// Sessions running: their peer, the pipe their records come back on, what of them was
    /// read so far (a partial line), and whether they authenticated.
    private var sessions: [pid_t: (peer: String, reports: Int32, pending: [UInt8], authenticated: Bool)] = [:]
    /// Which connection is served (`StartupGate`), and the refusals said once per interval.
    private let gate: StartupGate
    private var refusals = RefusalTally()
    /// What watches the daemon from outside: the status address and systemd.
    public var companion: (any LoopCompanion)?
    /// Hears each session's report as it ends, and each connection turned away.
    public var reports: (SessionReport) -> Void = { _ in }
    /// Modules that dial their sender (`upstream`): when each dials next, and its dial's
    /// process while it runs (`+Dial`).
    var dialers: [String: (schedule: DialSchedule, pid: pid_t?)] = [:]

    /// Listens on `listen` (`host:port`, `[v6]:port`); nil: listens nowhere (every module dials).
    public init(
        listen: String?, maxConnections: Int, startups: StartupLimits = StartupLimits(), logger: Logger
    ) throws(ConfigError) {
        gate = StartupGate(limits: startups, maxConnections: maxConnections)
        self.logger = logger
        if let listen {
            let socket: ListeningSocket
            do { socket = try ListeningSocket(listen) } catch { throw ConfigError("listen: \(error)") }
            // Drained whole at each wake: a flood's backlog is turned away in one go.
            _ = fcntl(socket.descriptor, F_SETFL, fcntl(socket.descriptor, F_GETFL) | O_NONBLOCK)
            listener = socket
        } else {
            listener = nil
        }
    }

    /// The sessions running now.
    public var sessionCount: Int { sessions.count }

    /// Accepts until a stop is requested, then ends the sessions still running.
    /// `refresh(reloadRequested)` runs in the daemon on SIGHUP (true) and before each
    /// session (false), so that a changed configuration reaches the next connection, and
    /// returns why a new script was refused; `session(connection, peer, report)` runs in
    /// the forked child, fills the report, and returns its exit status.
    public func run(
        control: RunControl, refresh: (_ reloadRequested: Bool) -> String?,
        session: (_ connection: Int32, _ peer: String, _ report: SessionReport) -> Int32,
        upstreams: () -> [String: ReceiverModule.Upstream] = { [:] },
        dial: (_ module: String, _ upstream: ReceiverModule.Upstream, _ report: SessionReport) -> Int32 = { _, _, _ in 1
        }
    ) {
        if listener != nil { logger.notice("listening on \(address)") }
        companion?.moment(.ready)
        CodePages.releaseStartup()
        while !control.isStopRequested {
            dialDue(upstreams(), control: control, refresh: refresh, dial: dial)
            var fds = [
                pollfd(fd: listener?.descriptor ?? -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: control.readDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            fds += sessions.values.map { pollfd(fd: $0.reports, events: Int16(POLLIN), revents: 0) }
            fds += companion?.pollRequests ?? []
            let due = [companion?.deadline, nextDial].compactMap { $0 }.min()
            let wait = due.map { max(0, min(1, $0 - MonotonicClock.now)) } ?? 1
            _ = poll(&fds, nfds_t(fds.count), Int32((wait * 1000).rounded(.up)))
            for (pid, session) in sessions where fds.contains(where: { $0.fd == session.reports && $0.revents != 0 }) {
                readRecords(pid)
            }
            reap()
            companion?.serve(fds, now: MonotonicClock.now)
            if control.isStopRequested { break }
            if control.takeReloadRequest() {
                companion?.moment(.reloading)
                companion?.moment(.reloaded(refused: refresh(true)))
            }
            if let line = refusals.flush(now: MonotonicClock.now) { logger.warning("\(line)") }
            guard let listener, fds[0].revents & Int16(POLLIN) != 0 else { continue }
            while !control.isStopRequested, let (client, peer) = listener.accept() {
                serve(client, peer, control: control, refresh: refresh, session: session)
            }
        }
        companion?.moment(.stopping(timeout: 5))
        for pid in sessions.keys { kill(pid, SIGTERM) }
        for pid in Array(sessions.keys) {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            collect(pid, status: status)
        }
        logger.notice("stopped")
    }

    /// A new connection: turned away as `gate` says (said once per interval), or served in
    /// a child process of its own.
    private func serve(
        _ client: Int32, _ peer: String, control: RunControl, refresh: (_ reloadRequested: Bool) -> String?,
        session: (_ connection: Int32, _ peer: String, _ report: SessionReport) -> Int32
    ) {
        let waiting = sessions.values.filter { !$0.authenticated }
        if let refusal = gate.admit(
            unauthenticated: waiting.count, fromAddress: waiting.count { $0.peer == peer },
            authenticated: sessions.count - waiting.count, draw: Double.random(in: 0..<1))
        {
            if let line = refusals.refused(refusal.rawValue, address: peer, now: MonotonicClock.now) {
                logger.warning("\(line)")
            }
            // Only a sender turned away for being one too many hears why; a flood is just closed.
            if refusal == .busy { ReceiverDaemon.refuse(client, "too many connections; try again later") }
            close(client)
            reports(SessionReport(peer: peer, connection: .busy))
            return
        }
        var one: Int32 = 1
        setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = refresh(false)
        if fork(peer: peer, control: control, { report in session(client, peer, report) }) == nil {
            ReceiverDaemon.refuse(client, "the receiver cannot start a session")
        }
        close(client)
    }

    /// Runs `body` in a child process of its own, with a pipe for its report; nil when it
    /// could not be started (said in the log).
    func fork(peer: String, control: RunControl, _ body: (SessionReport) -> Int32) -> pid_t? {
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe2(&pipeFDs, O_CLOEXEC | O_NONBLOCK) == 0 else {
            logger.error("cannot start a session: pipe: \(SystemError.text())", metadata: ["peer": "\(peer)"])
            return nil
        }
        defer { close(pipeFDs[1]) }
        switch Glibc.fork() {
        case 0:
            // The session must not keep the daemon's ports open after the daemon is gone:
            // closed before anything else the child does (a daemon killed and started
            // again finds its port held by nothing but the sessions still serving).
            if let listener { close(listener.descriptor) }
            control.releaseInChild()
            for request in companion?.pollRequests ?? [] { close(request.fd) }
            for other in sessions.values { close(other.reports) }
            close(pipeFDs[0])
            let report = SessionReport(peer: peer, fd: pipeFDs[1])
            let status = body(report)
            report.finish()
            fflush(nil)
            _exit(status)
        case -1:
            logger.error("cannot start a session: fork: \(SystemError.text())", metadata: ["peer": "\(peer)"])
            close(pipeFDs[0])
            return nil
        case let pid:
            sessions[pid] = (peer, pipeFDs[0], [], false)
            return pid
        }
    }

    /// Sessions that ended: their reports are read (the child wrote it before exiting,
    /// so it is all in the pipe) and handed on.
    private func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            collect(pid, status: status)
        }
    }

    /// A session that ended: the last of its records (all in the pipe: the child wrote them
    /// before it exited), and a failed connection if it never told one (it crashed).
    private func collect(_ pid: pid_t, status: Int32) {
        readRecords(pid)
        let dialed = dialEnded(pid, status: status)
        guard let session = sessions.removeValue(forKey: pid) else { return }
        // Ended by its handshake's alarm: a connection that did not authenticate in time,
        // counted with the refusals rather than said one by one.
        if status & 0x7f == SIGALRM, !session.authenticated, !dialed,
            let line = refusals.refused(
                "did not authenticate within handshake_timeout", address: session.peer, now: MonotonicClock.now)
        {
            logger.warning("\(line)")
        }
        close(session.reports)
        if !told.contains(pid) { reports(SessionReport(peer: session.peer, connection: .failed)) }
        told.remove(pid)
    }

    /// Sessions whose connection was told.
    private var told = Set<pid_t>()

    /// Reads what a session's pipe holds now and hands on its whole records.
    private func readRecords(_ pid: pid_t) {
        guard var session = sessions[pid] else { return }
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = read(session.reports, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            session.pending += chunk[..<n]
            // A line longer than any record: dropped, not kept growing.
            if session.pending.count > 1 << 20 { session.pending.removeAll() }
        }
        for record in SessionReport.records(in: &session.pending) {
            if record.connection != nil { told.insert(pid) }
            if record.connection == .accepted { session.authenticated = true }
            reports(record)
        }
        sessions[pid] = session
    }

    /// An error frame, best effort, for a connection turned away before a session
    /// (SIGPIPE is ignored: a peer already gone is a failed write, nothing more).
    private static func refuse(_ fd: Int32, _ message: String) {
        FrameWriter(fd: fd, name: "peer").sayError(message)
    }
}
