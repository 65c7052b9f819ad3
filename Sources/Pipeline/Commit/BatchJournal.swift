import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// What a batch's commit does to the tree, written before the first rename (and
/// fsynced when the target is durable), so that a receiver that died mid-commit can
/// put the old tree back.
///
/// Each entry can be undone from what is on disk: staged file `new-<i>` still in
/// staging means it was not placed yet; `old-<i>` in staging holds what was there.
struct BatchJournal {
    enum Entry: Equatable {
        /// Staged `new-<index>` replaces (or creates) the path; what was there goes to `old-<index>`.
        case replace(path: RelativePath, index: Int)
        /// The path moves to `old-<index>`.
        case remove(path: RelativePath, index: Int)
        /// A directory made by the batch (absent before), or one whose mode, owner or times change.
        case directory(path: RelativePath, index: Int, created: Bool, old: FileInfo)
        /// Only mode, owner and times change; the old ones are kept to restore them.
        case attributes(path: RelativePath, old: FileInfo)
    }

    var entries: [Entry] = []

    static let fileName = "journal"

    /// One line per entry: fields separated by tabs, the path hex-encoded (it may hold any byte but NUL).
    func encoded() -> String {
        entries.map { e -> String in
            switch e {
            case let .replace(p, i): return "replace\t\(i)\t\(BatchJournal.hex(p))"
            case let .remove(p, i): return "remove\t\(i)\t\(BatchJournal.hex(p))"
            case let .directory(p, i, created, old):
                return "directory\t\(i)\t\(created ? 1 : 0)\t\(BatchJournal.fields(old))\t\(BatchJournal.hex(p))"
            case let .attributes(p, old): return "attributes\t\(BatchJournal.fields(old))\t\(BatchJournal.hex(p))"
            }
        }.joined(separator: "\n") + "\n"
    }

    static func decode(_ text: String) throws(TransferError) -> BatchJournal {
        var journal = BatchJournal()
        for line in text.split(separator: "\n") {
            let f = line.split(separator: "\t").map(String.init)
            func path(_ s: String) throws(TransferError) -> RelativePath { try RelativePath(validating: unhex(s)) }
            func int(_ s: String) throws(TransferError) -> Int {
                guard let v = Int(s) else { throw TransferError("corrupt journal line", path: String(line)) }
                return v
            }
            /// Mode, times, and the owner (absent from a journal written before owners).
            func old(_ at: Int, owner: Bool) throws(TransferError) -> FileInfo {
                var info = FileInfo(
                    kind: .file, mode: UInt32(truncatingIfNeeded: try int(f[at])), size: 0,
                    mtimeSeconds: try int(f[at + 1]), mtimeNanoseconds: try int(f[at + 2]))
                if owner {
                    info.uid = UInt32(truncatingIfNeeded: try int(f[at + 3]))
                    info.gid = UInt32(truncatingIfNeeded: try int(f[at + 4]))
                }
                return info
            }
            switch (f.first, f.count) {
            case ("replace", 3): journal.entries.append(.replace(path: try path(f[2]), index: try int(f[1])))
            case ("remove", 3): journal.entries.append(.remove(path: try path(f[2]), index: try int(f[1])))
            case ("directory", 7), ("directory", 9):
                journal.entries.append(
                    .directory(
                        path: try path(f[f.count - 1]), index: try int(f[1]), created: f[2] == "1",
                        old: try old(3, owner: f.count == 9)))
            case ("attributes", 5), ("attributes", 7):
                journal.entries.append(
                    .attributes(path: try path(f[f.count - 1]), old: try old(1, owner: f.count == 7)))
            default:
                throw TransferError("corrupt journal line", path: String(line))
            }
        }
        return journal
    }

    /// What a rollback restores: mode, times, owner.
    private static func fields(_ old: FileInfo) -> String {
        "\(old.mode)\t\(old.mtimeSeconds)\t\(old.mtimeNanoseconds)\t\(old.uid)\t\(old.gid)"
    }

    private static func hex(_ p: RelativePath) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(p.description.utf8.count * 2)
        for b in p.description.utf8 {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func unhex(_ s: String) -> String {
        var bytes: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex, let j = s.index(i, offsetBy: 2, limitedBy: s.endIndex) {
            if let b = UInt8(s[i..<j], radix: 16) { bytes.append(b) }
            i = j
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes the journal: a temporary file and a rename; with `sync`, fsyncs of the
    /// file and of the directory, so that it survives a power loss too.
    func write(in staging: TreeDirectory, sync: Bool) throws(TransferError) {
        let text = Array(encoded().utf8)
        let temporary = BatchJournal.fileName + ".tmp"
        try TransferError.wrapping { () throws(SystemError) in
            let file = try FileDescriptor(
                at: staging.rootFD, temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o600,
                shown: staging.root + "/" + temporary)
            var offset = 0
            while offset < text.count {
                let n = text.withUnsafeBytes { Glibc.write(file.raw, $0.baseAddress! + offset, text.count - offset) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SystemError("write the journal", path: staging.root)
                }
                offset += n
            }
            guard !sync || fsync(file.raw) == 0 else { throw SystemError("sync the journal", path: staging.root) }
            guard renameat(staging.rootFD, temporary, staging.rootFD, BatchJournal.fileName) == 0 else {
                throw SystemError("commit the journal", path: staging.root)
            }
        }
        if sync { fsync(staging.rootFD) }
    }

    /// Reads the journal of a staging directory, if it has one.
    static func read(in staging: TreeDirectory) throws(TransferError) -> BatchJournal? {
        guard let file = try? FileDescriptor(at: staging.rootFD, fileName, O_RDONLY | O_NOFOLLOW, shown: fileName)
        else {
            return nil
        }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(file.raw, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += buf[..<n]
        }
        return try decode(String(decoding: bytes, as: UTF8.self))
    }
}
