import Foundation

/// The built `runner` binary, run as a child process with its output in files.
public final class RunnerProcess: @unchecked Sendable {
    // @unchecked: the mutable state (Process) is only touched by the test that owns
    // this object, one call at a time; Sendable only lets it cross an `await`.
    public let process = Process()
    private let stdoutPath: String
    private let stderrPath: String

    /// The path of the built binary: beside the test bundle, else `.build/debug/runner`.
    public static var binary: String {
        if let explicit = ProcessInfo.processInfo.environment["RUNNER_BIN"] { return explicit }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "runner"
        ).path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return packageRoot + "/.build/debug/runner"
    }

    /// The package's root directory (for samples/ and plugins/).
    public static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// Starts `runner` with arguments; output goes to files in `logDirectory`.
    public init(
        _ arguments: [String], environment: [String: String] = [:], logDirectory: String, stdin: String? = nil,
        launcher: [String] = []
    ) throws {
        stdoutPath = logDirectory + "/runner.stdout.\(UUID().uuidString)"
        stderrPath = logDirectory + "/runner.stderr.\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        // A launcher (`ip netns exec NS`) runs the binary in another setting.
        process.executableURL = URL(fileURLWithPath: launcher.first ?? RunnerProcess.binary)
        process.arguments =
            launcher.isEmpty ? arguments : Array(launcher.dropFirst()) + [RunnerProcess.binary] + arguments
        process.environment = RunnerProcess.environment(logDirectory: logDirectory).merging(environment) { $1 }
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        process.standardInput = stdin.flatMap { FileHandle(forReadingAtPath: $0) } ?? FileHandle.nullDevice
        try process.run()
    }

    /// The environment a test's `runner` gets: this process's, the repository's plugins, and
    /// the test's own state (revisions, render caches), never the machine's.
    static func environment(logDirectory: String) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["RUNNER_PLUGIN_PATH"] = RunnerProcess.packageRoot + "/plugins"
        env["XDG_STATE_HOME"] = logDirectory + "/state"
        return env
    }

    /// Runs `runner` to completion and returns status, stdout and stderr.
    public static func run(
        _ arguments: [String], environment: [String: String] = [:], logDirectory: String, stdin: String? = nil,
        timeout: Double = 60
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        let p = try RunnerProcess(arguments, environment: environment, logDirectory: logDirectory, stdin: stdin)
        let status = await p.waitForExit(timeout: timeout)
        return (status ?? -1, p.stdout, p.stderr)
    }

    /// What the process wrote to stdout so far.
    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    /// What the process wrote to stderr so far.
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits until stderr contains `text`.
    public func waitForLog(_ text: String, timeout: Double = 20) async -> Bool {
        await eventually(timeout: timeout) { stderr.contains(text) || !process.isRunning }
            && stderr.contains(text)
    }

    /// Sends a signal.
    public func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for the exit status; kills the process (and returns nil) past the timeout.
    public func waitForExit(timeout: Double = 20) async -> Int32? {
        if await eventually(timeout: timeout, { !process.isRunning }) {
            return process.terminationStatus
        }
        kill(process.processIdentifier, SIGKILL)
        return nil
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: stdoutPath)
        try? FileManager.default.removeItem(atPath: stderrPath)
    }
}
