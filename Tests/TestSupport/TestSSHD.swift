import Foundation

/// A real sshd on 127.0.0.1 for the ssh:// tests, started by scripts/test-sshd.sh
/// with its own keys and config in a temp dir; `stop()` kills it.
public final class TestSSHD: @unchecked Sendable {
    // @unchecked: immutable after init except through stop/start, which the owning test calls in order.
    public let directory: String
    public private(set) var port: Int

    /// Starts sshd (on `port` when given).
    public init(directory: String, port: Int? = nil) throws {
        self.directory = directory
        self.port = 0
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.port = try start(port)
    }

    @discardableResult
    private func start(_ port: Int?) throws -> Int {
        let script = RunnerProcess.packageRoot + "/scripts/test-sshd.sh"
        let r = try sh("bash \(script) \(directory) \(port.map(String.init) ?? "")", in: directory)
        guard r.status == 0, let p = Int(r.output.split(separator: "\n").last ?? "") else {
            throw CocoaError(
                .featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "sshd did not start: \(r.output)"])
        }
        return p
    }

    /// Starts it again on the same port.
    public func restart() throws { port = try start(port) }

    /// Stops it (established sessions go on; new ones are refused).
    public func stop() {
        if let pid = try? String(contentsOfFile: directory + "/sshd.pid", encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines),
            let n = Int32(pid)
        {
            kill(n, SIGTERM)
        }
    }

    /// The `ssh = { ... }` table of a pipeline that reaches this sshd and runs the built runner.
    public func pipelineSSH(receiver: String) -> String {
        """
        ssh = { command = "ssh -i \(directory)/client_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5",
                runner = "\(RunnerProcess.binary)", receiver = "\(receiver)" },
        """
    }

    deinit { stop() }
}
