/// What a service is doing, as one structure with four faces: `/status` (this, as JSON),
/// `/metrics`, `/healthz` and the page at `/`; `runner status` reads the JSON back.
public struct ServiceStatus: Codable, Sendable {
    /// `sender` (`runner run`) or `receiver` (`runner serve`).
    public var role: String
    public var version: String
    /// Wall-clock seconds since the epoch when it was taken.
    public var at: Double
    public var pipelines: [Pipeline] = []
    public var modules: [Module] = []
    /// A receiver's connections by how they ended up (`accepted`, `busy`, `denied`,
    /// `auth_failed`, `failed`), since it started.
    public var connections: [String: Int] = [:]
    /// A receiver's sessions running now.
    public var sessions: Int?
    /// Why `/healthz` answers 503; empty when healthy.
    public var problems: [String] = []

    /// A sender's pipeline.
    public struct Pipeline: Codable, Sendable {
        public var name: String
        public var source: String
        /// The source's revision: the last batch number.
        public var revision: Int
        /// Directories watched.
        public var watches: Int
        public var groups: [Group]
        /// The webhook of `notify`, if one is set: what waits, what went, what failed.
        public var notify: Notify?
        /// Its leader election, when senders share it.
        public var lead: Lead?
    }

    /// Who leads a pipeline shared by senders (`settings.coordination`).
    public struct Lead: Codable, Sendable {
        /// This sender's name, and whether it is the leader or a standby.
        public var name: String
        public var role: String
        /// The leader's name as far as this sender knows (nil: nobody, or unknown).
        public var leader: String?
        /// The leader's term (its fencing token), when this sender leads.
        public var term: UInt64?
        /// Seconds its pushes may go on without another renewal.
        public var validFor: Double?
        /// Why this sender does not push though it should (etcd out of reach, lease lost).
        public var stopped: String?

        /// "leader sender-a (term 412, lease good for 8 s)", "standby (sender-a leads)".
        public var text: String {
            if let term { return "leader \(name) (term \(term), lease good for \(Int(validFor ?? 0)) s)" }
            return "standby \(name) (\(leader.map { "\($0) leads" } ?? "no leader known"))"
        }
    }

    /// A pipeline's notifications.
    public struct Notify: Codable, Sendable {
        public var webhook: String
        public var queued: Int
        public var delivered: Int
        /// POSTs that failed since start (each attempt), and documents dropped from a full queue.
        public var failures: Int
        public var dropped: Int
        public var lastError: String?
    }

    /// A group of hosts (hosts named only by a pipeline's `to` make a group named "").
    public struct Group: Codable, Sendable {
        public var name: String
        /// The newest revision approved for it (by its canaries, where it has them).
        public var approved: Int?
        /// The revision waiting for its canaries, if one does.
        public var candidate: Int?
        /// Held or halted: why, for the page's banner.
        public var held: String?
        /// What its candidate waits for, and for how many seconds.
        public var waiting: String?
        public var waitingFor: Double?
        /// A revision waiting for an operator's approval.
        public var approval: Approval?
        public var hosts: [Host]
    }

    /// A revision that waits for `runner approve`: why, for how many seconds, and how many
    /// paths it changes from what the group may have now.
    public struct Approval: Codable, Sendable {
        public var revision: Int
        public var why: String
        public var waitingFor: Double
        public var paths: Int

        /// A revision waiting.
        public init(revision: Int, why: String, waitingFor: Double, paths: Int) {
            self.revision = revision
            self.why = why
            self.waitingFor = waitingFor
            self.paths = paths
        }

        /// As the page's banner and `runner status` say it.
        public var text: String {
            "revision \(revision) (\(paths) path(s)) waits for approval for \(Int(waitingFor)) s: \(why)"
        }
    }

    /// One target.
    public struct Host: Codable, Sendable {
        public var uri: String
        /// `current` (at its group's approved revision), `canary` (at the candidate), `behind`,
        /// `sending`, `backoff`, `unreachable` or `held` (it refused its revision, or its group halted).
        public var state: String
        /// The revision it confirmed (nil: unknown, compared whole next time).
        public var applied: Int?
        /// The revision it should have.
        public var revision: Int
        /// Paths that differ between the two; `fullResync` when it needs a whole comparison instead.
        public var pending: Int
        public var fullResync: Bool
        /// Wall-clock seconds of the last time it answered.
        public var lastSeen: Double?
        public var lastResult: Result?
        public var lastError: String?
        /// Seconds until the next attempt, while in backoff.
        public var nextRetry: Double?
        /// Seconds it has been behind.
        public var behindFor: Double?
    }

    /// A batch's result on a host, with its actions' lines.
    public struct Result: Codable, Sendable {
        public var status: String
        public var at: Double?
        public var written: Int
        public var deleted: Int
        public var bytes: Int64
        public var message: String?
        public var actions: [ActionLine]
    }

    /// One action's line: `php-fpm reload ok: php-fpm reloaded`.
    public struct ActionLine: Codable, Sendable {
        public var name: String
        public var outcome: String
        public var summary: String
    }

    /// A receiver's module.
    public struct Module: Codable, Sendable {
        public var name: String
        public var path: String
        /// Batches by result, since the receiver started.
        public var batches: [String: Int]
        public var lastBatch: Result?
        public var lastPeer: String?
    }

    /// Every host of every pipeline.
    public var hosts: [Host] { pipelines.flatMap { $0.groups.flatMap(\.hosts) } }

    /// Every host is current (a receiver: nothing is behind by definition).
    public var allCurrent: Bool { hosts.allSatisfy { $0.state == "current" } }
}
