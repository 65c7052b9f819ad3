import FoundationEssentials
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// An `rsync://[user@]host[:port]/module` target: a module of an rsync daemon, for a fleet
/// that runs only rsyncd. Each batch is one run of the system `rsync` client with exactly
/// the batch's paths (`--files-from`), the changed ones forced past the quick check
/// (`--ignore-times`: a same-size rewrite in the same second still goes), the deleted ones
/// removed (`--delete-missing-args`), the files renamed into place together at the end
/// (`--delay-updates`), TCP_NODELAY, and the pipeline's timeout and auth. The daemon runs
/// no actions after a batch: "applied" is rsync's exit status 0.
public final class RsyncTarget: SyncTarget {
    public let uri: TargetURI
    private let passwordFile: String?
    private let timeout: Double
    /// Owners as numbers (`--numeric-ids`), not names.
    private let numericIDs: Bool
    /// Whether the last plan was a full sync (the quick check then decides what goes).
    private var planIsFull = false

    /// A target; `passwordFile` holds only the secret (rsync's `--password-file`).
    public init(uri: TargetURI, user: String?, passwordFile: String?, timeout: Double, numericIDs: Bool = false) {
        if case let .rsync(named, host, port, module) = uri {
            self.uri = .rsync(user: named ?? user, host: host, port: port, module: module)
        } else {
            self.uri = uri
        }
        self.passwordFile = passwordFile
        self.timeout = timeout
        self.numericIDs = numericIDs
    }

    /// The module's URL with a trailing slash: its contents, not the module as a directory.
    var moduleURL: String { uri.description + "/" }

    /// Moves are sent as what they are at the new path (an rsync daemon renames nothing).
    public func plan(paths: [String]?, moves: [String: String], source: any SourceTree, filter: Filter, delete: Bool)
        throws -> SyncPlan
    {
        planIsFull = paths == nil
        // Every directory counts as present, nothing else: the planner lists what the source
        // has at each path (a directory with what it holds), and rsync compares.
        var plan = try SyncPlanner(
            source: source, view: SourceDirectories(source: source), filter: filter, delete: false
        )
        .plan(paths: paths)
        guard delete else { return plan }
        var gone: [(path: String, isDirectory: Bool)] = []
        if let paths {
            gone = try paths.filter { try source.info($0) == nil }.map { ($0, false) }
        } else {
            // A full sync: what the daemon has and the source does not, outermost only.
            let missing = try RsyncListing.read(self, timeout: timeout).filter { try source.info($0.path) == nil }
            let missingDirectories = Set(missing.filter(\.isDirectory).map(\.path))
            gone = missing.filter { !Self.ancestors(of: $0.path).contains(where: missingDirectories.contains) }
                .map { ($0.path, $0.isDirectory) }
        }
        for entry in gone {
            // What the filter ignores (or lies under something it ignores) is neither sent nor deleted.
            let ignored =
                try Self.ancestors(of: entry.path).contains { try filter.isIgnored($0, isDirectory: true) }
                || filter.isIgnored(entry.path, isDirectory: entry.isDirectory)
            if !ignored { plan.operations.append(.delete(path: entry.path)) }
        }
        return plan
    }

    /// `a`, `a/b` for `a/b/c`.
    private static func ancestors(of path: String) -> [String] {
        var result: [String] = []
        var prefix = ""
        for part in path.split(separator: "/").dropLast() {
            prefix = prefix.isEmpty ? String(part) : prefix + "/" + part
            result.append(prefix)
        }
        return result
    }

    public func apply(_ plan: SyncPlan, from source: any SourceTree, cancelled: () -> Bool) throws -> SyncOutcome {
        guard !plan.isEmpty else { return SyncOutcome() }
        if cancelled() { throw TransferError("batch abandoned before it started (shutdown)", path: "\(uri)") }
        let paths = plan.operations.map(\.path)
        // A revision is no directory: what the batch sends is laid out in a scratch one first.
        var scratch: String?
        defer { if let scratch { try? FileSystem.removeTree(scratch) } }
        let root: String
        if let directory = source.directory {
            root = directory
        } else {
            let made = try RsyncRun.scratchDirectory()
            scratch = made
            try source.export(paths, into: made)
            root = made
        }
        // A host's rendered templates keep their template's times: their bytes are compared,
        // in a second run (each run's files land together; the two runs one after the other).
        let compared = Set(paths.filter(source.comparesContent))
        var outcome = SyncOutcome()
        for (list, forced) in [(paths.filter { !compared.contains($0) }, !planIsFull), (compared.sorted(), true)]
        where !list.isEmpty {
            let file = try RsyncRun.pathList(list)
            defer { unlink(file) }
            var arguments = [
                "-a", "--from0", "--files-from=\(file)", "--delete-missing-args", "--force", "--delay-updates",
                "--stats", "--sockopts=TCP_NODELAY",
            ]
            if forced { arguments.append("--ignore-times") }
            if numericIDs { arguments.append("--numeric-ids") }
            let run = try RsyncRun(self, arguments: arguments + [root + "/", moduleURL], timeout: timeout)
            outcome.written += run.stat("Number of regular files transferred")
            outcome.deleted += run.stat("Number of deleted files")
            outcome.bytes += Int64(run.stat("Total bytes sent"))
            outcome.matched += Int64(run.stat("Matched data"))
        }
        return outcome
    }

    public func describeActions() throws -> [String] {
        ["none (an rsync daemon runs no actions after a batch; applied means rsync's exit status 0)"]
    }

    public func read(_ paths: [String]) throws -> [TargetFileContent] {
        let scratch = try RsyncRun.scratchDirectory()
        defer { try? FileSystem.removeTree(scratch) }
        let list = try RsyncRun.pathList(paths)
        defer { unlink(list) }
        _ = try? RsyncRun(
            self,
            arguments: [
                "-a", "--from0", "--files-from=\(list)", "--max-size=\(TargetFileContent.limit)", moduleURL,
                scratch + "/",
            ],
            timeout: timeout)
        return paths.map { path in
            let full = FileSystem.join(scratch, path)
            guard let info = FileInfo.lstat(full), info.kind == .file else { return .absent }
            return FileManager.default.contents(atPath: full).map { .bytes(Array($0)) } ?? .absent
        }
    }

    public func disconnect() {}

    /// Arguments every run takes: timeouts, and the password (never a prompt: with no
    /// password file, an empty `RSYNC_PASSWORD` answers for it).
    var common: (arguments: [String], environment: [String: String]) {
        let seconds = String(max(1, Int(timeout.rounded(.up))))
        var arguments = ["--timeout=\(seconds)", "--contimeout=\(seconds)"]
        var environment: [String: String] = [:]
        if let passwordFile {
            arguments.append("--password-file=\(passwordFile)")
        } else {
            environment["RSYNC_PASSWORD"] = ""
        }
        return (arguments, environment)
    }
}

/// The target as the planner sees it for an rsync daemon: where the source has a
/// directory, a directory whose attributes differ (so that it is listed and walked), and
/// nothing else (rsync's quick check decides about files).
private struct SourceDirectories: TargetView {
    let source: any SourceTree
    func info(_ path: String) throws -> FileInfo? {
        guard try source.info(path)?.kind == .directory else { return nil }
        return FileInfo(kind: .directory, mode: 0, size: 0, mtimeSeconds: 0, mtimeNanoseconds: 0)
    }
    func list(_ path: String) -> [String] { [] }
    func readLink(_ path: String) -> String? { nil }
}
