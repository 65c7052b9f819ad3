import RunnerSystem
import Synchronization

/// The hosts of one pipeline, each served on a worker thread of its own, so that a slow,
/// hung, frozen or down host never delays another. Which host gets what, and how many at
/// once, is the rollout's to say; the fleet starts the deliveries and hands their results
/// back. It lives on the run loop's thread; workers only run a delivery and post its
/// result, which wakes the loop (`wakeup`).
final class Fleet {
    let hosts: [DeliveryHost]
    /// Readable while results wait.
    let wakeup: Wakeup
    private let results = ResultQueue()
    private(set) var running = 0

    init(hosts: [DeliveryHost]) throws(SystemError) {
        self.hosts = hosts
        wakeup = try Wakeup()
    }

    /// Starts a delivery to host `index` on its thread.
    func start(_ index: Int, _ job: DeliveryJob) {
        let host = hosts[index]
        if host.firstStarted == nil { host.firstStarted = MonotonicClock.now }
        running += 1
        let results = self.results, wakeup = self.wakeup
        do {
            try host.worker().run {
                let result = job.run(host: index)
                results.list.withLock { $0.append(result) }
                wakeup.signal()
            }
        } catch {
            results.list.withLock {
                $0.append(
                    DeliveryResult(
                        host: index, revision: job.revision, term: job.term, whole: job.whole,
                        outcome: .failure(.init("\(error)", lostSession: false)), seconds: 0))
            }
            wakeup.signal()
        }
    }

    /// The results that came back.
    func takeResults() -> [DeliveryResult] {
        wakeup.drain()
        let done = results.list.withLock { list in
            defer { list.removeAll() }
            return list
        }
        running -= done.count
        return done
    }
}

/// Results posted by workers, taken by the run loop.
private final class ResultQueue: Sendable {
    let list = Mutex<[DeliveryResult]>([])
}
