import RunnerSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A sender's claim on its pipeline's leader key, kept on a thread of its own (every call to
/// etcd may block for its deadline, which the run loop must never wait on): it campaigns
/// while it stands by, renews on `LeaseClock`'s schedule while it leads, and publishes what
/// it is. The run loop asks `mayPush` before each delivery: true only while this sender leads
/// and its last answered renewal still covers the moment.
public final class LeaderLoop: Sendable {
    /// What the loop last knew.
    public struct Snapshot: Sendable, Equatable {
        public var role: LeaderLease.Role = .standby(leader: nil)
        /// Pushing may go on until then (monotonic seconds).
        public var validUntil = -Double.infinity
        /// The last call to etcd that failed, and why; nil once one succeeds.
        public var error: String?
    }

    /// What the thread and its owner share.
    private final class Shared: Sendable {
        let snapshot = Mutex(Snapshot())
        let stopping = Mutex<(stop: Bool, resign: Bool)>((false, false))
    }

    private let shared = Shared()
    private let thread: WorkerThread
    /// Readable when the role or the error changed: the run loop polls it.
    public let wakeup: Wakeup

    /// Starts claiming `pipeline` for `name` with a lease of `ttl` seconds; each call to etcd
    /// waits at most `timeout`.
    public init(endpoints: [EtcdEndpoint], pipeline: String, name: String, ttl: Int, timeout: Double = 2)
        throws(SystemError)
    {
        thread = try WorkerThread()
        wakeup = try Wakeup()
        thread.run { [shared, wakeup] in
            // The lease lives on this thread alone.
            let lease = LeaderLease(
                client: EtcdClient(endpoints: endpoints, timeout: timeout), pipeline: pipeline, name: name, ttl: ttl)
            while true {
                let (stop, resign) = shared.stopping.withLock { $0 }
                if stop {
                    if resign { lease.resign() }
                    shared.snapshot.withLock { $0 = Snapshot(role: lease.role, validUntil: lease.clock.validUntil) }
                    return
                }
                var failure: String?
                do throws(EtcdError) {
                    if case .leader = lease.role {
                        if MonotonicClock.now >= lease.clock.nextRenewal() { try lease.renew() }
                    } else {
                        try lease.campaign()
                    }
                } catch {
                    failure = error.description
                }
                let fresh = Snapshot(role: lease.role, validUntil: lease.clock.validUntil, error: failure)
                let changed = shared.snapshot.withLock { old in
                    defer { old = fresh }
                    return old.role != fresh.role || old.error != fresh.error
                }
                if changed { wakeup.signal() }
                // A leader renews when due; a standby tries again a third of a TTL on, or the
                // moment the key goes (a watch from when it saw it held).
                let next = lease.mayPush() ? lease.clock.nextRenewal() : MonotonicClock.now + Double(ttl) / 3
                var watch: EtcdWatch?
                if case .standby(_?) = lease.role, failure == nil {
                    watch = try? EtcdWatch(
                        endpoints: endpoints, key: lease.key, from: lease.heldAt + 1, timeout: timeout)
                }
                waiting: while MonotonicClock.now < next && !shared.stopping.withLock({ $0.stop }) {
                    let slice = min(MonotonicClock.now + 0.05, next)
                    guard let w = watch else {
                        usleep(UInt32(max(0, slice - MonotonicClock.now) * 1_000_000))
                        continue
                    }
                    switch try? w.next(until: slice) {
                    case .idle: continue
                    case .events(let events, _):
                        if events.contains(where: { if case .delete = $0 { true } else { false } }) { break waiting }
                    // Compacted past it: a campaign reads afresh. Broken: wait out the third.
                    case .compacted: break waiting
                    case nil: watch = nil
                    }
                }
            }
        }
    }

    /// What the loop last knew.
    public var snapshot: Snapshot { shared.snapshot.withLock { $0 } }

    /// Whether this sender may push at `now`.
    public func mayPush(at now: Double = MonotonicClock.now) -> Bool {
        let s = snapshot
        guard case .leader = s.role else { return false }
        return now < s.validUntil
    }

    /// Ends the loop; with `resign`, the lead goes at once (a clean stop), else it runs out
    /// with the lease (as when the process dies).
    public func stop(resign: Bool) {
        shared.stopping.withLock { $0 = (true, resign) }
        try? thread.waitForQueued()
    }
}
