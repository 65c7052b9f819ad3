import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// One run of the system `rsync` client for an `RsyncTarget`, its errors mapped to what a
/// person can act on: a failure to reach the daemon is a lost session (the host is down,
/// retried with backoff, logged once); a refusal names its likely cause.
struct RsyncRun {
    /// What rsync printed (stdout and stderr; the end of it).
    let output: String

    /// Runs `rsync` with `arguments` against the target; throws a `WireError` when the
    /// daemon could not be reached or went silent, a `TransferError` for a refusal.
    init(_ target: RsyncTarget, arguments: [String], timeout: Double) throws {
        let common = target.common
        // rsync's own --timeout and --contimeout end it first; this is the backstop.
        let run = CommandRun(
            ["rsync"] + common.arguments + arguments, environment: common.environment, timeout: timeout * 3 + 5)
        output = run.output
        switch run.ending {
        case .exited(0), .exited(24):  // 24: a source file vanished meanwhile; the next batch has it
            return
        case .notStarted(let why):
            throw TransferError("cannot run rsync: \(why) (is the rsync package installed?)", path: "\(target.uri)")
        case .timedOut, .signalled:
            throw WireError("\(target.uri): rsync \(run.describe(timeout: timeout * 3 + 5))")
        case .exited(let status):
            throw RsyncRun.failure(status, output: run.output, uri: target.uri)
        }
    }

    /// The error for rsync's exit `status`, from what it printed.
    static func failure(_ status: Int32, output: String, uri: TargetURI) -> any Error {
        let lines = output.split(separator: "\n").map(String.init)
        if let refusal = lines.first(where: { $0.hasPrefix("@ERROR:") }) {
            let said = refusal.dropFirst("@ERROR:".count).trimmingPrefix(" ")
            if said.hasPrefix("auth failed") {
                return TransferError(
                    "authentication failed (rsync: \(said)): wrong user or secret. The daemon's 'secrets file' needs user:secret lines and mode 0600; the sender's secret_file holds only the secret",
                    path: "\(uri)")
            }
            if said.hasPrefix("Unknown module") {
                return TransferError("the rsync daemon has no such module (rsync: \(said))", path: "\(uri)")
            }
            if said.hasPrefix("access denied") {
                return TransferError(
                    "the rsync daemon refuses this host (rsync: \(said)): see its 'hosts allow' and 'hosts deny'",
                    path: "\(uri)")
            }
            if said.contains("max connections") {
                return WireError("\(uri): the rsync daemon is busy (rsync: \(said))")
            }
            return TransferError("the rsync daemon refused: \(said)", path: "\(uri)")
        }
        let said = lines.filter { $0.hasPrefix("rsync:") || $0.hasPrefix("rsync error:") }.suffix(3)
            .joined(separator: "; ")
        // 5: start of the protocol, 10: socket, 12: data stream, 30/35: timeouts.
        if [5, 10, 12, 30, 35].contains(status) {
            return WireError("\(uri): \(said.isEmpty ? "rsync exit status \(status)" : said)")
        }
        return TransferError("rsync exit status \(status): \(said)", path: "\(uri)")
    }

    /// A figure of `--stats` ("Number of regular files transferred: 1,234"), 0 when absent.
    func stat(_ name: String) -> Int {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
        let digits = line.dropFirst(name.count + 1).drop { $0 == " " }.prefix { $0.isNumber || $0 == "," }
        return Int(digits.filter(\.isNumber)) ?? 0
    }

    /// A NUL-separated list of paths in a temporary file, for `--files-from` with `--from0`;
    /// the caller removes it. Each path starts with `./`, or rsync would take a name that
    /// starts with `#` or `;` for a comment. The root itself is left out: `.` with rsync's
    /// `--dirs` would send everything at the top, ignored files included.
    static func pathList(_ paths: [String]) throws -> String {
        var template = Array("/tmp/runner-rsync-list.XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw TransferError(SystemError("mkstemp", path: "/tmp")) }
        defer { close(fd) }
        let path = Self.text(template)
        var bytes: [UInt8] = []
        for p in paths where !p.isEmpty { bytes += Array("./".utf8) + FileName.encode(p) + [0] }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw TransferError(SystemError("write", path: path)) }
            offset += n
        }
        return path
    }

    /// A fresh private directory; the caller removes it.
    static func scratchDirectory() throws -> String {
        var template = Array("/tmp/runner-rsync.XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw TransferError(SystemError("mkdtemp", path: "/tmp")) }
        return Self.text(template)
    }

    /// A NUL-terminated template as mkstemp and mkdtemp filled it in.
    private static func text(_ template: [CChar]) -> String {
        String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
