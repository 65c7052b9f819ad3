/// Everything a configuration file declared.
public struct Configuration: Sendable {
    /// The file it was loaded from.
    public var file: String
    /// `settings { ... }`.
    public var settings: Settings
    /// Groups by declaration order.
    public var groups: [HostGroup]
    /// Host-level values by declaration order.
    public var hosts: [HostVars] = []
    /// Pipelines by declaration order.
    public var pipelines: [PipelineConfig]
    /// Receiver modules by declaration order.
    public var modules: [ReceiverModule]

    /// A configuration.
    public init(
        file: String, settings: Settings = Settings(), groups: [HostGroup] = [], pipelines: [PipelineConfig] = [],
        modules: [ReceiverModule] = []
    ) {
        self.file = file
        self.settings = settings
        self.groups = groups
        self.pipelines = pipelines
        self.modules = modules
    }
}
