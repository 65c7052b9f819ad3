import RunnerSystem
import Synchronization

/// The hosts of one pipeline, each served on its own: its own pending changes, its own
/// connection, its own backoff, and its own worker thread for its deliveries,
/// so that a slow, hung, frozen or down host never delays another. At most `maxParallel`
/// deliveries run at once (a sliding window: the next host starts as one finishes).
///
/// The fleet itself lives on the run loop's thread; workers only run a delivery and post
/// its result, which wakes the loop (`wakeup`).
final class Fleet {
    let hosts: [DeliveryHost]
    let maxParallel: Int
    /// Readable while results wait.
    let wakeup: Wakeup
    private let results = ResultQueue()
    private(set) var running = 0

    init(hosts: [DeliveryHost], maxParallel: Int) throws(SystemError) {
        self.hosts = hosts
        self.maxParallel = max(1, maxParallel)
        wakeup = try Wakeup()
    }

    /// Adds a batch to what every host has pending.
    func enqueue(_ batch: ChangeBatch) {
        for host in hosts { host.pending.add(batch) }
    }

    /// When a host in backoff may be tried again.
    var deadline: Double? {
        hosts.filter { !$0.busy && !$0.paused && !$0.pending.isEmpty }.compactMap(\.notBefore).min()
    }

    /// Nothing is under way and nothing waits to be sent.
    var isIdle: Bool { running == 0 && hosts.allSatisfy { $0.pending.isEmpty || $0.paused } }

    /// Starts a delivery for each host that is due, while the window has room: `job` makes
    /// the work for a host and the batch it takes; it runs on a thread of its own.
    func dispatch(now: Double, job: (DeliveryHost, ChangeBatch) -> DeliveryJob) {
        for (index, host) in hosts.enumerated() where running < maxParallel && host.isDue(at: now) {
            let batch = host.pending.take()
            let work = job(host, batch)
            host.busy = true
            if host.firstStarted == nil { host.firstStarted = now }
            running += 1
            let results = self.results, wakeup = self.wakeup
            do {
                try host.worker().run {
                    let result = work.run(host: index, batch: batch)
                    results.list.withLock { $0.append(result) }
                    wakeup.signal()
                }
            } catch {
                host.busy = false
                running -= 1
                host.pending.add(batch)
                results.list.withLock {
                    $0.append(
                        DeliveryResult(
                            host: index, batch: batch, revision: work.revision,
                            outcome: .failure(.init("\(error)", lostSession: false)), seconds: 0))
                }
                wakeup.signal()
            }
        }
    }

    /// The results that came back; their hosts are free again.
    func takeResults() -> [DeliveryResult] {
        wakeup.drain()
        let done = results.list.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for r in done where hosts[r.host].busy {
            hosts[r.host].busy = false
            running -= 1
        }
        return done
    }
}

/// Results posted by workers, taken by the run loop.
private final class ResultQueue: Sendable {
    let list = Mutex<[DeliveryResult]>([])
}
