/// The result of one batch on one target, as `after` and the log see it.
public struct TargetResult: Sendable, Equatable {
    /// How the batch ended on the target.
    public enum Status: String, Sendable {
        case applied, unchanged, failed, held
        /// The receiver applied the batch, an action refused it, and the old files are back.
        case rolledBack = "rolled_back"
    }

    /// How the batch ended.
    public var status: Status
    /// Files and links written.
    public var written: Int
    /// Paths deleted.
    public var deleted: Int
    /// Bytes of content written.
    public var bytes: Int64
    /// What went wrong, for `failed`, `held` and `rolledBack`.
    public var message: String?
    /// What the receiver's post-sync actions did, in order.
    public var actions: [ActionResult]

    /// A result.
    public init(
        status: Status, written: Int = 0, deleted: Int = 0, bytes: Int64 = 0, message: String? = nil,
        actions: [ActionResult] = []
    ) {
        self.actions = actions
        self.status = status
        self.written = written
        self.deleted = deleted
        self.bytes = bytes
        self.message = message
    }
}
