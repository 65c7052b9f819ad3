/// `notify = { webhook = "http://…", on = { "held", "failed", "applied", "waiting" } }`: one
/// JSON document per group per revision (never per host or per file) POSTed to `webhook`
/// when the group's outcome is one of `on`.
public struct NotifySettings: Sendable, Equatable {
    /// What a group's revision came to.
    public enum Event: String, Sendable, CaseIterable {
        /// Every host of the group applied it.
        case applied
        /// It reached the group, and some host refused or failed it, or could not be reached.
        case failed
        /// The group's canary refused it: no other host got it.
        case held
        /// It waits for an operator's approval.
        case waiting
    }

    /// Where to POST (`http://host:port/path`; no TLS: a local relay forwards further).
    public var webhook: String?
    public var on: Set<Event>

    /// Settings.
    public init(webhook: String?, on: Set<Event> = Set(Event.allCases)) {
        self.webhook = webhook
        self.on = on
    }
}
