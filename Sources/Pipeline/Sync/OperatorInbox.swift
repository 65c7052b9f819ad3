import FoundationEssentials
import RunnerSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The operators' commands waiting in etcd for a pipeline's leader (`EtcdOperators`), kept
/// by a watch on a thread of its own (the run loop never waits on etcd for them): read
/// whole, then watched from there; a watch etcd compacted away, or one that broke, is read
/// afresh and watched again.
final class OperatorInbox: Sendable {
    /// A command as etcd has it.
    struct Pending: Sendable {
        let key: String
        let modRevision: Int64
        let command: EtcdOperatorCommand
    }

    private final class Shared: Sendable {
        let pending = Mutex<[String: Pending]>([:])
        let stopping = Atomic<Bool>(false)
    }

    private let shared = Shared()
    private let thread: WorkerThread
    /// Readable when the commands changed.
    let wakeup: Wakeup

    init(endpoints: [EtcdEndpoint], pipeline: String, timeout: Double) throws(SystemError) {
        thread = try WorkerThread()
        wakeup = try Wakeup()
        thread.run { [shared, wakeup] in
            let client = EtcdClient(endpoints: endpoints, timeout: timeout)
            let prefix = "/runner/\(pipeline)/commands/"
            func take(_ kv: EtcdClient.KeyValue) -> Pending? {
                (try? JSONDecoder().decode(EtcdOperatorCommand.self, from: Data(kv.value))).map {
                    Pending(key: kv.key, modRevision: kv.modRevision, command: $0)
                }
            }
            while !shared.stopping.load(ordering: .relaxed) {
                do throws(EtcdError) {
                    let (kvs, revision) = try client.range(prefix, prefix: true)
                    var all: [String: Pending] = [:]
                    for kv in kvs { all[kv.key] = take(kv) }
                    shared.pending.withLock { $0 = all }
                    wakeup.signal()
                    let watch = try EtcdWatch(
                        endpoints: endpoints, key: prefix, prefix: true, from: revision + 1, timeout: timeout)
                    watching: while !shared.stopping.load(ordering: .relaxed) {
                        switch try watch.next(until: MonotonicClock.now + 0.2) {
                        case .idle: continue
                        case .compacted: break watching
                        case .events(let events, _):
                            shared.pending.withLock { pending in
                                for event in events {
                                    switch event {
                                    case .put(let kv): pending[kv.key] = take(kv)
                                    case .delete(let key, _): pending[key] = nil
                                    }
                                }
                            }
                            wakeup.signal()
                        }
                    }
                } catch {
                    // etcd out of reach: read afresh in a second.
                    for _ in 0..<10 where !shared.stopping.load(ordering: .relaxed) { usleep(100_000) }
                }
            }
        }
    }

    /// The commands waiting now, oldest first.
    var pending: [Pending] { shared.pending.withLock { Array($0.values) }.sorted { $0.modRevision < $1.modRevision } }

    /// Ends the thread.
    func stop() {
        shared.stopping.store(true, ordering: .relaxed)
        try? thread.waitForQueued()
    }
}
