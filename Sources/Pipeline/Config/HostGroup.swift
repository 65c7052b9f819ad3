/// A named set of targets with values shared by the group (`group "name" { ..., vars = { ... } }`).
public struct HostGroup: Sendable, Equatable {
    /// The group's name, as `to` refers to it.
    public var name: String
    /// The targets, in the order written.
    public var targets: [TargetURI]
    /// The group's values for templates (`vars = { APP_MODE = "functional" }`).
    public var vars: [String: String]
    /// Every revision for the group waits for `runner approve` (`approve = true`).
    public var approve = false
    /// Where the group was declared.
    public var location: SourceLocation

    /// A group.
    public init(name: String, targets: [TargetURI], vars: [String: String] = [:], location: SourceLocation) {
        self.name = name
        self.targets = targets
        self.vars = vars
        self.location = location
    }
}
