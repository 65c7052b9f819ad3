import RunnerSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where the connections of receivers that dial in (`dial://name/module` targets) wait for
/// their pipeline: the listener checks a dialer against what the pipelines expect and the
/// names' secrets, and parks the connection here; the host's target takes it at its next
/// delivery. A host that has not dialed is down. Each pipeline is woken when one of its
/// hosts dials, so that a host that was away is served at once rather than at its backoff.
public final class DialBoard: Sendable {
    /// Why a dialer was turned away, as the sender's log says it (the dialer only hears
    /// "access denied", or that its name is connected already).
    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case unknownPipeline(String)
        case unknownTarget(String)
        case noSecret(String)
        case inUse(String, peer: String)

        public var description: String {
            switch self {
            case .unknownPipeline(let p): "no pipeline '\(p)' here"
            case .unknownTarget(let t): "no pipeline lists \(t)"
            case .noSecret(let name): "no secret for '\(name)' in dial_secrets"
            case .inUse(let t, let peer): "\(t) is connected already (from \(peer))"
            }
        }
    }

    private struct Slot {
        /// The connection, parked until its target takes it; then only watched (`inUse`).
        var parked: Int32?
        var inUse: Int32?
        var peer: String
    }

    private struct State {
        /// Per pipeline: the dial targets it lists, and its wakeup.
        var pipelines: [String: (targets: Set<TargetURI>, wakeup: Wakeup)] = [:]
        var slots: [String: Slot] = [:]
        /// Per pipeline, the targets that dialed since it last looked, and whether each dialed
        /// once (`runner pull --once`).
        var arrived: [String: [(target: TargetURI, once: Bool)]] = [:]
        var secrets: [String: String] = [:]
    }

    private let state = Mutex(State())

    /// An empty board; pipelines say what they expect with `expect`.
    public init() {}

    /// The names' secrets (`dial_secrets`), replaced at each load of the script.
    public func setSecrets(_ secrets: [String: String]) {
        state.withLock { $0.secrets = secrets }
    }

    /// Pipeline `pipeline` lists these dial targets (replacing what it listed before a
    /// reload); returns the wakeup that is readable when one of them dialed.
    public func expect(pipeline: String, targets: [TargetURI]) throws(SystemError) -> Wakeup {
        let wakeup = try Wakeup()
        state.withLock { $0.pipelines[pipeline] = (Set(targets), wakeup) }
        return wakeup
    }

    /// The secret a dialer claiming `name` for `module` of `pipeline` must prove.
    func secret(pipeline: String, name: String, module: String) throws(Refusal) -> String {
        let target = TargetURI.dial(name: name, module: module)
        return try state.withLock { (s) throws(Refusal) -> String in
            guard let p = s.pipelines[pipeline] else { throw .unknownPipeline(pipeline) }
            guard p.targets.contains(target) else { throw .unknownTarget("\(target) of pipeline '\(pipeline)'") }
            guard let secret = s.secrets[name] else { throw .noSecret(name) }
            return secret
        }
    }

    /// An authenticated dialer's connection: parked for its target, unless the name holds a
    /// live connection already (a connection whose peer hung up gives way). Parked, the board
    /// owns `fd`; refused, the caller still does.
    func park(_ fd: Int32, pipeline: String, target: TargetURI, peer: String, once: Bool) throws(Refusal) {
        let key = Self.key(pipeline, target)
        let old: Int32? = try state.withLock { (s) throws(Refusal) -> Int32? in
            if let slot = s.slots[key], let live = slot.parked ?? slot.inUse, !SocketPeer.hasHungUp(live) {
                throw .inUse("\(target)", peer: slot.peer)
            }
            let old = s.slots[key]?.parked
            s.slots[key] = Slot(parked: fd, inUse: nil, peer: peer)
            s.arrived[pipeline, default: []].append((target, once))
            s.pipelines[pipeline]?.wakeup.signal()
            return old
        }
        if let old { close(old) }
    }

    /// The parked connection of `target`, handed to its delivery (which closes it when done).
    func take(pipeline: String, target: TargetURI) -> Int32? {
        state.withLock { s in
            let key = Self.key(pipeline, target)
            guard var slot = s.slots[key], let fd = slot.parked else { return nil }
            slot.parked = nil
            slot.inUse = fd
            s.slots[key] = slot
            return fd
        }
    }

    /// The delivery closed the connection it took: the name is free again.
    func dropped(pipeline: String, target: TargetURI, fd: Int32) {
        state.withLock { s in
            let key = Self.key(pipeline, target)
            if s.slots[key]?.inUse == fd { s.slots[key] = nil }
        }
    }

    /// The targets of `pipeline` that dialed since the last call, and whether each dialed once.
    public func arrivals(pipeline: String) -> [(target: TargetURI, once: Bool)] {
        state.withLock { s in
            s.pipelines[pipeline]?.wakeup.drain()
            defer { s.arrived[pipeline] = nil }
            return s.arrived[pipeline] ?? []
        }
    }

    private static func key(_ pipeline: String, _ target: TargetURI) -> String { "\(pipeline) \(target)" }
}
