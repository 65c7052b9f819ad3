import RunnerSystem

/// What applying a plan to a target did.
public struct SyncOutcome: Sendable, Equatable {
    /// Files and links written.
    public var written = 0
    /// Paths deleted.
    public var deleted = 0
    /// Directories created or updated, and attribute-only changes.
    public var updated = 0
    /// Files moved in the source and renamed at the target rather than sent.
    public var renamed = 0
    /// Bytes of file content sent (deltas, or whole files for a local target).
    public var bytes: Int64 = 0
    /// Bytes of new content the delta took from the receiver's copies instead of sending.
    public var matched: Int64 = 0
    /// Files that changed while being read: not sent now, to be sent in a later batch.
    public var retry: [String] = []
    /// Files sent again whole in the same batch, because their delta rebuilt another
    /// file at the receiver (its copy changed meanwhile, or a block shared its sums).
    public var resent: [String] = []
    /// Source entries that cannot be synced (devices, FIFOs, sockets).
    public var skipped: [String] = []
    /// What the receiver's post-sync actions did.
    public var actions: [ActionResult] = []
    /// Why the receiver rolled the batch back after an action refused it, if it did.
    public var rolledBack: String?

    /// An outcome with nothing done yet.
    public init() {}
}
