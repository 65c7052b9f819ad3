import FoundationEssentials
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// An operator's command to a running sender (`runner approve`, `reject`, `rollback`), one
/// JSON line on its control socket.
public struct ControlRequest: Codable, Sendable, Equatable {
    public enum Command: String, Codable, Sendable { case approve, reject, rollback }

    public var command: Command
    public var group: String
    /// The revision to approve (nil: the one waiting) or to roll back to (nil with `last`).
    public var revision: Int?
    /// `rollback --last`: the revision the group had before its current one.
    public var last: Bool?
    /// Say what would be done, and do nothing.
    public var dryRun: Bool?

    /// A request.
    public init(command: Command, group: String, revision: Int? = nil, last: Bool? = nil, dryRun: Bool? = nil) {
        self.command = command
        self.group = group
        self.revision = revision
        self.last = last
        self.dryRun = dryRun
    }
}

/// The sender's answer to a `ControlRequest`.
public struct ControlReply: Codable, Sendable, Equatable {
    public var ok: Bool
    public var message: String
    /// The revision made or approved.
    public var revision: Int?
    /// What the command changes at the group's hosts (a rollback's `--dry-run`).
    public var diff: String?

    /// A reply.
    public init(ok: Bool, message: String, revision: Int? = nil, diff: String? = nil) {
        self.ok = ok
        self.message = message
        self.revision = revision
        self.diff = diff
    }
}

/// The control socket's line protocol, `<state_dir>/<pipeline>/control.sock`: one request
/// line, one reply line, then close. The sender's side is `PipelineRunner+Operator`; this
/// is also `runner approve`'s, `reject`'s and `rollback`'s.
public enum ControlClient {
    /// Why a request did not reach a sender.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Sends `request` to the socket at `path`; waits at most `timeout` seconds for the reply.
    public static func send(_ request: ControlRequest, to path: String, timeout: Int = 30) throws(Failure)
        -> ControlReply
    {
        let fd: Int32
        do { fd = try UnixStreamListener.connect(path) } catch {
            if error.code == ENOENT || error.code == ECONNREFUSED {
                throw Failure(description: "no sender of this pipeline is running (\(path) does not answer)")
            }
            throw Failure(description: "cannot reach the sender: \(error)")
        }
        defer { close(fd) }
        writeLine(fd, request)
        guard let reply = readLine(fd, ControlReply.self, timeout: timeout, limit: 64 << 20) else {
            throw Failure(description: "the sender at \(path) gave no answer")
        }
        return reply
    }

    /// One JSON line from `fd` (within `timeout` seconds, at most `limit` bytes).
    static func readLine<T: Decodable>(_ fd: Int32, _ type: T.Type, timeout: Int, limit: Int) -> T? {
        SocketLines.setTimeout(fd, seconds: timeout, sending: false)
        guard let line = SocketLines.readLine(fd, limit: limit) else { return nil }
        return try? JSONDecoder().decode(T.self, from: Data(line))
    }

    /// `value` as one JSON line to `fd` (within a second).
    static func writeLine<T: Encodable>(_ fd: Int32, _ value: T) {
        guard var line = try? JSONEncoder().encode(value) else { return }
        line.append(10)
        SocketLines.setTimeout(fd, seconds: 1, receiving: false)
        _ = SocketLines.send(fd, Array(line))
    }
}
