import Logging

/// One entry of a module's `on_sync`, ready to run after a batch is committed.
protocol SyncAction {
    /// As logs and results name it.
    var name: String { get }
    /// Whether a failure rolls the batch back (a validation, or a reload that verifies).
    var validates: Bool { get }
    /// Runs once for a committed batch; may roll the batch back itself through the
    /// context (a reload that failed verification puts the old files back before it
    /// reloads again).
    func run(_ context: ActionContext) -> ActionResult
    /// What is missing on this host for the action to work (`runner check`), empty when ready.
    func problems() -> [String]
}

/// What an action sees of the batch it runs after.
struct ActionContext {
    let module: ReceiverModule
    /// The paths the batch wrote or deleted, relative to the module.
    let paths: [String]
    let logger: Logger
    let undo: BatchUndo
}

/// Puts back what a committed batch replaced, at most once.
final class BatchUndo {
    private let perform: () throws(TransferError) -> Void
    private(set) var done = false
    /// Why the undo itself failed, if it did.
    private(set) var failure: String?

    init(_ perform: @escaping () throws(TransferError) -> Void) { self.perform = perform }

    func callAsFunction() {
        guard !done else { return }
        done = true
        do { try perform() } catch { failure = error.description }
    }
}
