import FoundationEssentials
import Logging
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// What a service shows the world, as the companion of its loop: systemd's notifications
/// (READY, RELOADING, STOPPING, WATCHDOG, a one-line STATUS), the status address
/// (`/`, `/status`, `/metrics`, `/healthz`) and the metrics file. `runner run` attaches
/// it to its run loop, `runner serve` to its daemon; the loop only knows `LoopCompanion`.
public final class ServiceFace: LoopCompanion {
    let notifier: SystemdNotifier?
    let server: StatusServer?
    /// The metrics, fed by the pipelines (sender) or the sessions' reports (receiver).
    public let metrics = ServiceMetrics()
    let settings: Settings
    let version: String
    let logger: Logger
    /// The status as it is now; set by `attach`.
    var snapshot: () -> ServiceStatus
    /// Every turn of the loop: keeps per-host times (sender).
    var tick: (_ now: Double) -> Void = { _ in }
    private var lastLine = ""
    private var lastLineAt = 0.0
    private var metricsWrittenAt = 0.0

    /// The face for `settings`; its status address is listened on at once, so a busy
    /// port is a configuration error at start, not a silent absence.
    public init(
        settings: Settings, version: String, logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) {
        self.settings = settings
        self.version = version
        self.logger = logger
        notifier = SystemdNotifier(environment: environment)
        snapshot = { ServiceStatus(role: "", version: version, at: 0) }
        var server: StatusServer?
        if let address = settings.status {
            var respond: (String) -> StatusServer.Response = { _ in StatusServer.Response(contentType: "", body: "") }
            do {
                server = try StatusServer(address: address, said: { [logger] in logger.warning("\($0)") }) {
                    respond($0)
                }
            } catch {
                throw ConfigError("status: \(error)")
            }
            self.server = server
            respond = { [unowned self] path in self.respond(path) }
            logger.notice("status on http://\(server!.address)/")
        } else {
            self.server = nil
        }
    }

    /// The status address actually listened on.
    public var statusAddress: String? { server?.address }

    public var pollRequests: [pollfd] { server?.pollRequests ?? [] }

    public var deadline: Double? {
        [notifier?.deadline, server?.deadline, settings.metricsFile == nil ? nil : metricsWrittenAt + 1]
            .compactMap { $0 }.min()
    }

    public func serve(_ polled: [pollfd], now: Double) {
        tick(now)
        server?.serve(polled, now: now)
        notifier?.pingIfDue(now: now)
        if let file = settings.metricsFile, now >= metricsWrittenAt + 1 {
            metricsWrittenAt = now
            writeMetrics(to: file)
        }
        guard let notifier, now >= lastLineAt + 1 else { return }
        let line = snapshot().line
        if line != lastLine {
            notifier.send(["STATUS=\(line)"])
            (lastLine, lastLineAt) = (line, now)
        }
    }

    public func moment(_ moment: LoopMoment) {
        switch moment {
        case .ready:
            lastLine = snapshot().line
            notifier?.send(["READY=1", "STATUS=\(lastLine)"])
        case .reloading:
            notifier?.send(["RELOADING=1", "MONOTONIC_USEC=\(SystemdNotifier.monotonicMicroseconds)"])
        case .reloaded(let refused):
            metrics.reloaded(refused: refused != nil)
            lastLine = refused.map { "reload refused, the running configuration stays: \($0)" } ?? snapshot().line
            notifier?.send(["READY=1", "STATUS=\(lastLine)"])
        case .stopping(let timeout):
            notifier?.send(["STOPPING=1", "EXTEND_TIMEOUT_USEC=\(UInt64((timeout + 5) * 1_000_000))"])
            if let file = settings.metricsFile { writeMetrics(to: file) }
        }
    }

    /// The answer to a GET of `path`.
    func respond(_ path: String) -> StatusServer.Response {
        let status = snapshot()
        switch path {
        case "/", "/index.html":
            return StatusServer.Response(contentType: "text/html; charset=utf-8", body: StatusPage.html(status))
        case "/status":
            return StatusServer.Response(contentType: "application/json", body: status.json())
        case "/metrics":
            return StatusServer.Response(
                contentType: "text/plain; version=0.0.4; charset=utf-8", body: metricsText(status))
        case "/healthz":
            let ok = status.problems.isEmpty
            return StatusServer.Response(
                status: ok ? 200 : 503, contentType: "text/plain",
                body: ok ? "ok\n" : status.problems.joined(separator: "\n") + "\n")
        default:
            return StatusServer.Response(status: 404, contentType: "text/plain", body: "not found\n")
        }
    }

    private func metricsText(_ status: ServiceStatus) -> String {
        metrics.update(from: status)
        return metrics.text()
    }

    /// The metrics for node-exporter's textfile collector: written beside, then renamed over.
    private func writeMetrics(to file: String) {
        let temporary = file + ".tmp"
        do {
            try Data(metricsText(snapshot()).utf8).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, file) == 0 else { throw SystemError("rename", path: file) }
        } catch {
            logger.warning("cannot write the metrics to \(file): \(error)")
        }
    }
}
