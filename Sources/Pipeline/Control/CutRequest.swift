/// What a cut looks at: the source, and where it changed.
public struct CutRequest {
    /// The source directory, resolved (a release's directory, not the `current` link).
    public var source: String
    /// The one file synced, when the pipeline's source is a file (in `source`).
    public var sourceFile: String?
    /// Paths that changed, as the watch saw them (nil: compare the whole tree).
    public var paths: [String]?
    /// The pipeline's ignore rules; the paths given were decided by them already.
    public var filter: Filter
    /// Why the revision is cut, when not by a watched change.
    public var note: String?
    /// Whether the record counts the tree's files (a mass-change guard weighs changes by it).
    public var countFiles = false

    /// A request.
    public init(source: String, sourceFile: String? = nil, paths: [String]?, filter: Filter, note: String? = nil) {
        self.source = source
        self.sourceFile = sourceFile
        self.paths = paths
        self.filter = filter
        self.note = note
    }
}

/// What a cut made.
public struct CutResult {
    /// The new revision; nil when the source is as the head has it.
    public var record: RevisionRecord?
    /// What changed from the head (empty without a new revision).
    public var diff = RevisionDiff()
    /// Files that changed while they were read: not in this revision, to be cut again.
    public var unstable: [String] = []
    /// Devices, FIFOs and sockets, which are never sent.
    public var skipped: [String] = []
    /// Entries the ignore rules dropped in the directories walked, with the rule.
    public var ignored: [(path: String, reason: String)] = []
    /// What went wrong without stopping the cut (an ignore predicate that failed).
    public var warnings: [String] = []
}
