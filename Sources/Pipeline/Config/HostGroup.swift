/// A named set of targets (`group "name" { ... }`).
public struct HostGroup: Sendable, Equatable {
    /// The group's name, as `to` refers to it.
    public var name: String
    /// The targets, in the order written.
    public var targets: [TargetURI]
    /// Where the group was declared.
    public var location: SourceLocation

    /// A group.
    public init(name: String, targets: [TargetURI], location: SourceLocation) {
        self.name = name
        self.targets = targets
        self.location = location
    }
}
