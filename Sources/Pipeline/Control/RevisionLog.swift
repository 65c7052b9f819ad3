import FoundationEssentials
import RunnerSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A pipeline's revisions (`<state_dir>/<pipeline>/`): each an immutable manifest of the
/// source as the pipeline sends it, kept in `revisions/<number>` with its tree and file
/// contents in the content store (`objects/`). `cut` (`+Cut`) makes the next revision from
/// what the watch saw; `diff` (`+Diff`) says what a host at one revision needs to be at
/// another; `collect` (`+Collect`) keeps the last `keep` revisions and what pins others.
/// Used on the run loop's thread; a delivery reads a revision through its own `RevisionTree`.
public final class RevisionLog {
    /// `<state_dir>/<pipeline>`.
    public let directory: String
    public let store: ContentStore
    let reader: ManifestReader
    /// Revisions kept besides those something still points at (`keep_revisions`).
    public let keep: Int
    /// `user@host` of this sender.
    public let author: String
    /// The newest revision cut from the source (what the next cut reads changes into), nil
    /// before the first cut.
    public private(set) var head: RevisionRecord?
    /// The newest revision number, a rollback's too (0: none).
    public private(set) var newest = 0
    private var records: [Int: RevisionRecord] = [:]
    /// Records cut and not on disk yet: the writer thread's (`writeBehind`), and why its last
    /// write failed (said at the next `writeBehind`; those records are written again).
    private let unwritten = RecordsInFlight()
    /// Writes what cuts kept in memory, off the run loop.
    private var writer: WorkerThread?
    /// Revisions cut since the last collection.
    var cutsSinceCollect = 0
    /// Each directory's identity across senders, by its tree object (`+Identity`).
    let identities = Mutex<[ContentHash: [UInt8]]>([:])

    /// Opens the log in `directory`, or starts one (`readOnly`: another process's log, read
    /// and never changed). A head whose manifest cannot be read
    /// (objects lost to a power cut) is put aside with everything after it: the next cut is
    /// then a whole one, and every host is compared whole.
    public init(directory: String, keep: Int = 100, readOnly: Bool = false) throws(SystemError) {
        self.directory = directory
        self.keep = max(1, keep)
        if !readOnly { try FileSystem.makeDirectories(directory + "/revisions", mode: 0o700) }
        store = try ContentStore(directory: directory + "/objects", readOnly: readOnly)
        reader = ManifestReader(store: store)
        author = Self.whoami()
        for number in numbers().reversed() {
            guard let record = try? load(number), let root = record.rootEntry, (try? reader.tree(root.hash)) != nil
            else {
                if !readOnly {
                    rename((directory + "/revisions/\(number)").cPath, (directory + "/revisions/\(number).lost").cPath)
                }
                continue
            }
            newest = max(newest, number)
            // A rollback is one group's: the source's newest revision is the one before it.
            guard record.group == nil else { continue }
            head = record
            break
        }
    }

    /// Makes the next revision's number at least `number + 1`: a sender taking over numbers
    /// its revisions after every one the pipeline's state in etcd names.
    public func reserve(through number: Int) { newest = max(newest, number) }

    /// The numbers of the revisions kept, in order.
    public func numbers() -> [Int] {
        Set(
            DirectoryEntries.sorted(at: directory + "/revisions").compactMap { Int($0) }
                + unwritten.state.withLock { $0.records.map(\.number) }
        ).sorted()
    }

    /// Revision `number`, if the log has it.
    public func record(_ number: Int) -> RevisionRecord? {
        if let known = records[number] ?? unwritten.state.withLock({ $0.records.first { $0.number == number } }) {
            return known
        }
        return try? load(number)
    }

    private func load(_ number: Int) throws -> RevisionRecord {
        let record = try Self.load(number, in: directory)
        remember(record)
        return record
    }

    private static func load(_ number: Int, in directory: String) throws -> RevisionRecord {
        let path = directory + "/revisions/\(number)"
        let file = try FileDescriptor(opening: path, O_RDONLY | O_NOFOLLOW)
        guard let bytes = try ContentStore.readAll(file.raw, limit: 1 << 20, shown: path) else {
            throw SystemError("read (a revision record over 1 MiB)", path: path, code: nil)
        }
        let record = try JSONDecoder().decode(RevisionRecord.self, from: Data(bytes))
        guard record.number == number else {
            throw SystemError("read (a record of another number)", path: path, code: nil)
        }
        return record
    }

    /// The newest `limit` records on disk in the log at `directory`, newest first, read
    /// without opening the log (a running sender holds it; its last second's cuts may not
    /// be written yet).
    public static func records(in directory: String, limit: Int) -> [RevisionRecord] {
        let numbers = DirectoryEntries.sorted(at: directory + "/revisions").compactMap { Int($0) }.sorted()
        return numbers.reversed().prefix(limit).compactMap { try? load($0, in: directory) }
    }

    private func remember(_ record: RevisionRecord) {
        if records.count > 1024 { records.removeAll(keepingCapacity: true) }
        records[record.number] = record
    }

    /// Adds a new revision (the head, when cut from the source); its record is written by the
    /// next `writeBehind`.
    func append(_ record: RevisionRecord) {
        remember(record)
        unwritten.state.withLock { $0.records.append(record) }
        if record.group == nil { head = record }
        newest = record.number
        cutsSinceCollect += 1
    }

    /// Cuts a revision for group `group` alone whose content is revision `to`'s (a rollback,
    /// asked for by `by`); `changed` lists what it changes from `from`, the revision the group
    /// may have now.
    public func rollback(to: RevisionRecord, from: RevisionRecord?, group: String, by: String) throws(SystemError)
        -> RevisionRecord
    {
        guard let root = to.rootEntry, (try? reader.tree(root.hash)) != nil else {
            throw SystemError("roll back (revision \(to.number)'s manifest is gone)", path: directory, code: nil)
        }
        let diff = try self.diff(from: from?.rootEntry, to: root)
        let record = RevisionRecord(
            number: newest + 1, parent: from?.number, root: to.root, rootMode: to.rootMode,
            rootSeconds: to.rootSeconds, rootNanoseconds: to.rootNanoseconds, time: Date().timeIntervalSince1970,
            author: by, changed: Array(diff.paths.prefix(RevisionRecord.listedPaths)), changedCount: diff.paths.count,
            note: "rollback to \(to.number)", group: group, files: to.files)
        append(record)
        return record
    }

    /// Has the log's own thread write what the last cuts kept in memory: their objects first,
    /// then their records (a record on disk always finds its manifest). A created file costs
    /// up to a millisecond: the run loop goes on meanwhile. Throws why an earlier write failed.
    public func writeBehind() throws(SystemError) {
        try throwFailedWrite()
        let writer: WorkerThread
        if let running = self.writer {
            writer = running
        } else {
            writer = try WorkerThread()
            self.writer = writer
        }
        writer.run { [store, directory, unwritten] in
            do throws(SystemError) {
                try store.flush()
                for record in unwritten.state.withLock({ $0.records }) {
                    try Self.write(record, in: directory)
                    unwritten.state.withLock { u in u.records.removeAll { $0.number == record.number } }
                }
            } catch {
                unwritten.state.withLock { $0.error = error }
            }
        }
    }

    /// Writes what the last cuts kept in memory, and returns once it is on disk.
    public func flush() throws(SystemError) {
        try writeBehind()
        try writer?.waitForQueued()
        try throwFailedWrite()
    }

    private func throwFailedWrite() throws(SystemError) {
        if let failed = unwritten.state.withLock({ u in
            defer { u.error = nil }; return u.error
        }) {
            throw failed
        }
    }

    private static func write(_ record: RevisionRecord, in directory: String) throws(SystemError) {
        let path = directory + "/revisions/\(record.number)"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(record) else {
            throw SystemError("encode revision \(record.number)", path: path, code: nil)
        }
        try FileSystem.replace(path, with: Array(data), temporary: path + ".tmp", mode: 0o600)
    }

    /// The entry at `path` in a revision ("" is its root), or nil.
    public func entry(_ path: String, in record: RevisionRecord) throws(SystemError) -> TreeEntry? {
        guard let root = record.rootEntry else { return nil }
        return try reader.entry(path, root: root)
    }

    /// A revision as a tree to send from, with `overlay` (a host's rendered templates) over it.
    public func tree(_ record: RevisionRecord, overlay: [String: RenderedFile] = [:]) -> RevisionTree? {
        record.rootEntry.map { RevisionTree(store: store, root: $0, overlay: overlay) }
    }

    /// `user@host` of the process.
    static func whoami() -> String {
        (UserDatabase.userName(geteuid()) ?? "uid\(geteuid())") + "@" + HostName.current
    }
}

/// Records on their way to disk, shared by the log and its writer thread.
private final class RecordsInFlight: Sendable {
    let state = Mutex<(records: [RevisionRecord], error: SystemError?)>(([], nil))
}
