/// Values for one target's templates (`host "runner://web-f2:8730/fpm" { vars = { ... } }`):
/// they beat its group's.
public struct HostVars: Sendable, Equatable {
    /// The target.
    public var uri: TargetURI
    /// Its values.
    public var vars: [String: String]
    /// Where it was declared.
    public var location: SourceLocation

    /// A host's values.
    public init(uri: TargetURI, vars: [String: String], location: SourceLocation) {
        self.uri = uri
        self.vars = vars
        self.location = location
    }
}
