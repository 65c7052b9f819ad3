/// What one post-sync action did on a receiver: sent back to the sender in the result
/// frame, logged on both sides, and handed to `after(host, result)`.
public struct ActionResult: Sendable, Equatable {
    /// How the action ended.
    public enum Outcome: String, Sendable {
        /// Done (validated, reloaded, ran with exit status 0).
        case ok
        /// Failed: a validation refused the batch, a command exited non-zero, a check failed.
        case failed
        /// Killed at its timeout.
        case timedOut = "timed out"
        /// Not run: an earlier action failed.
        case skipped
    }

    /// The action, as logs name it (`php-fpm reload`, `exec nginx -t`, `lua receiver.lua:9`).
    public var name: String
    /// How it ended.
    public var outcome: Outcome
    /// One line for the log: "php-fpm reloaded", or what failed and why.
    public var summary: String
    /// The exit status of the command it ran, when there was one.
    public var exitStatus: Int32?
    /// The last lines of the command's output (stdout and stderr), bounded.
    public var output: String
    /// How long it ran, measured where it ran (not sent over the wire).
    public var seconds: Double = 0

    /// A result.
    public init(name: String, outcome: Outcome, summary: String, exitStatus: Int32? = nil, output: String = "") {
        self.name = name
        self.outcome = outcome
        self.summary = summary
        self.exitStatus = exitStatus
        self.output = output
    }

    /// Whether it failed or timed out (a skipped action did not run; it did not fail).
    public var failed: Bool { outcome == .failed || outcome == .timedOut }

    func encode(_ b: inout PayloadBuilder) {
        b.string(name)
        b.string(outcome.rawValue)
        b.string(summary)
        b.u8(exitStatus == nil ? 0 : 1)
        b.u32(UInt32(bitPattern: exitStatus ?? 0))
        b.string(output)
    }

    static func decode(_ r: inout PayloadReader) throws(WireError) -> ActionResult {
        let name = try r.string(limit: 1000)
        let outcome = try r.string(limit: 20)
        let summary = try r.string(limit: 8000)
        let hasStatus = try r.u8() == 1
        let status = Int32(bitPattern: try r.u32())
        let output = try r.string(limit: 8000)
        guard let o = Outcome(rawValue: outcome) else { throw WireError("unknown action outcome '\(outcome)'") }
        return ActionResult(
            name: name, outcome: o, summary: summary, exitStatus: hasStatus ? status : nil, output: output)
    }
}
