import FoundationEssentials
import RunnerSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// POSTs each `GroupOutcome` to a webhook, in order, from a thread of its own: the run loop
/// only queues. A POST that fails (no answer within 5 s, or not 2xx) is tried again after
/// 1, 2, 4 … 60 seconds, for as long as it takes; past 1,000 waiting the oldest are dropped
/// (counted). What it did is `health`, for the status page and the metrics.
public final class Notifier: Sendable {
    /// What the notifier did so far.
    public struct Health: Sendable, Equatable {
        public var queued = 0
        public var delivered = 0
        /// POSTs that failed (each attempt), and documents dropped from a full queue.
        public var failures = 0
        public var dropped = 0
        public var lastError: String?
    }

    private struct State {
        var queue: [[UInt8]] = []
        var health = Health()
        var stopped = false
    }

    private let core: Core
    private let thread: WorkerThread
    static let maxQueued = 1000

    public var url: WebhookURL { core.url }

    /// A notifier POSTing to `url`, its thread started.
    public init(url: WebhookURL) throws(SystemError) {
        let core = try Core(url: url)
        self.core = core
        thread = try WorkerThread()
        thread.run { core.deliver() }
    }

    /// What is still queued is not sent: the thread ends after the POST under way.
    deinit { core.stop() }

    public var health: Health { core.state.withLock { $0.health } }

    /// Queues `outcome` (never blocks).
    public func send(_ outcome: GroupOutcome) {
        guard let body = try? JSONEncoder().encode(outcome) else { return }
        core.state.withLock { s in
            if s.queue.count >= Self.maxQueued {
                s.queue.removeFirst()
                s.health.dropped += 1
                s.health.failures += 1
            }
            s.queue.append(Array(body))
            s.health.queued = s.queue.count
        }
        core.wakeup.signal()
    }

    /// What the notifier and its thread share: the thread holds it, so that the notifier can
    /// go away (and stop it) while a POST is under way.
    private final class Core: Sendable {
        let url: WebhookURL
        let state = Mutex(State())
        let wakeup: Wakeup

        init(url: WebhookURL) throws(SystemError) {
            self.url = url
            wakeup = try Wakeup()
        }

        func stop() {
            state.withLock { $0.stopped = true }
            wakeup.signal()
        }

        /// The thread's loop: the oldest document until it is taken, then the next.
        func deliver() {
            var failuresInARow = 0
            while true {
                let next = state.withLock { s -> (stop: Bool, body: [UInt8]?) in (s.stopped, s.queue.first) }
                if next.stop { return }
                guard let body = next.body else {
                    wait(seconds: nil)
                    continue
                }
                if let error = post(body) {
                    failuresInARow += 1
                    state.withLock { s in
                        s.health.failures += 1
                        s.health.lastError = error
                    }
                    wait(seconds: min(60, Double(1 << min(failuresInARow - 1, 6))))
                } else {
                    failuresInARow = 0
                    state.withLock { s in
                        if !s.queue.isEmpty { s.queue.removeFirst() }
                        s.health.queued = s.queue.count
                        s.health.delivered += 1
                        s.health.lastError = nil
                    }
                }
            }
        }

        /// Sleeps until `seconds` pass (nil: until woken); a stop ends it early.
        func wait(seconds: Double?) {
            let until = seconds.map { MonotonicClock.now + $0 }
            while true {
                let left = until.map { max(0, $0 - MonotonicClock.now) }
                var fd = pollfd(fd: wakeup.descriptor, events: Int16(POLLIN), revents: 0)
                _ = poll(&fd, 1, left.map { Int32(($0 * 1000).rounded(.up)) } ?? -1)
                wakeup.drain()
                if state.withLock({ $0.stopped }) { return }
                if until == nil || MonotonicClock.now >= until! { return }
            }
        }

        /// One POST; nil when the webhook took it (2xx), else why not.
        func post(_ body: [UInt8]) -> String? {
            let fd: Int32
            do { fd = try RemoteConnection.tcpConnect(host: url.host, port: url.port, timeout: 5) } catch {
                return "\(url): \(error)"
            }
            defer { close(fd) }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            SocketLines.setTimeout(fd, seconds: 5)
            let head =
                "POST \(url.path) HTTP/1.1\r\nHost: \(url.host):\(url.port)\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(body.count)\r\nUser-Agent: runner\r\nConnection: close\r\n\r\n"
            guard SocketLines.send(fd, Array(head.utf8) + body) else { return "\(url): sending: \(SystemError.text())" }
            let answer = SocketLines.readLine(fd, limit: 8192) ?? []
            let line = String(decoding: answer.prefix { $0 != 13 }, as: UTF8.self)
            let parts = line.split(separator: " ")
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
                return "\(url): no HTTP answer"
            }
            return (200..<300).contains(status) ? nil : "\(url): answered \(line.dropFirst(parts[0].count + 1))"
        }
    }
}
