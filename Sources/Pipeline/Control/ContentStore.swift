import CLinux
import RunnerSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Contents by their hash, each stored once: the files of every revision, the directories of
/// their manifests (`TreeObject`) and the templates rendered for each host. An object is
/// written to a temporary file and renamed to its hash, so a reader sees all of it or none;
/// an object is never changed once there, so any thread may read it. Objects are written
/// on the run loop's thread only, and removed by `collect` only when no delivery runs.
///
/// Small objects are kept in memory first and written by `flush`, which the run loop calls
/// once a revision's deliveries are under way: creating a file costs a journaled inode
/// (0.5 ms on this machine's ext4), three of them per revision were most of a change's
/// latency, and readers find the objects in memory meanwhile.
///
/// Without fsync, as the rest of the state: a crash of the process loses what was not
/// flushed yet and a power cut may lose the newest objects, which `RevisionLog` notices (that
/// revision is put aside; the hosts it reached are compared whole).
public final class ContentStore: Sendable {
    /// `<state_dir>/<pipeline>/objects`.
    public let directory: String
    /// The store's secret seed (`objects/seed`, mode 0600).
    let seed: UInt64
    private let counter = Atomic<UInt64>(0)
    /// Small objects put and not written yet, by hash, and their bytes in all.
    private let unwritten = Mutex<(objects: [ContentHash: [UInt8]], bytes: Int)>(([:], 0))

    /// Bytes kept in memory before a `put` writes them itself (a cut of a large tree).
    static let unwrittenLimit = 4 << 20

    /// Objects under this size are read whole into memory: hashed before anything is written,
    /// so content the store has already costs no write.
    static let smallFile = 64 << 10

    /// Opens the store in `directory` (made 0700), with its seed (made on first use).
    public init(directory: String, readOnly: Bool = false) throws(SystemError) {
        self.directory = directory
        if readOnly {
            // Another process's store (a running sender's): read, never changed or cleaned.
            let seedPath = directory + "/seed"
            guard let file = try? FileDescriptor(opening: seedPath, O_RDONLY | O_NOFOLLOW),
                let text = try? Self.readAll(file.raw, limit: 64, shown: seedPath),
                let seed = UInt64(String(decoding: text, as: UTF8.self), radix: 16)
            else { throw SystemError("open the content store (no revision yet)", path: directory, code: ENOENT) }
            self.seed = seed
            return
        }
        try FileSystem.makeDirectories(directory + "/tmp", mode: 0o700)
        chmod(directory.cPath, 0o700)
        let seedPath = directory + "/seed"
        if let file = try? FileDescriptor(opening: seedPath, O_RDONLY | O_NOFOLLOW),
            let text = try? Self.readAll(file.raw, limit: 64, shown: seedPath),
            let seed = UInt64(String(decoding: text, as: UTF8.self), radix: 16)
        {
            self.seed = seed
        } else {
            var generator = SystemRandomNumberGenerator()
            seed = generator.next()
            try FileSystem.replace(
                seedPath, with: Array(String(seed, radix: 16).utf8), temporary: seedPath + ".tmp", mode: 0o600)
        }
        // Temporary files of a process that died before its rename.
        for name in DirectoryEntries.sorted(at: directory + "/tmp") { unlink(directory + "/tmp/" + name) }
        // Every prefix directory at once, not one more mkdir on some change's way.
        for prefix in 0..<256 {
            let hex = String(prefix, radix: 16)
            mkdir((directory + "/" + (hex.count == 1 ? "0" + hex : hex)).cPath, 0o700)
        }
    }

    /// Where an object is: `objects/ab/cdef…`.
    public func path(of hash: ContentHash) -> String {
        let hex = hash.description
        return directory + "/" + hex.prefix(2) + "/" + hex.dropFirst(2)
    }

    /// Whether the store has the object.
    public func contains(_ hash: ContentHash) -> Bool {
        unwritten.withLock { $0.objects[hash] != nil } || access(path(of: hash).cPath, F_OK) == 0
    }

    /// The hash `bytes` would be stored under.
    public func hash(of bytes: [UInt8]) -> ContentHash {
        bytes.withUnsafeBytes { ContentHash(StrongHash.digest($0, seed: seed)) }
    }

    /// Stores bytes (unless the store has them) and returns their hash; small ones are
    /// written at the next `flush`.
    @discardableResult
    public func put(_ bytes: [UInt8]) throws(SystemError) -> ContentHash {
        let hash = self.hash(of: bytes)
        if bytes.count <= Self.smallFile {
            // Whether the store has it already is asked at the flush: a lookup on disk is
            // a tenth of a cut.
            let held = unwritten.withLock { pending in
                if pending.objects.updateValue(bytes, forKey: hash) == nil { pending.bytes += bytes.count }
                return pending.bytes
            }
            if held > Self.unwrittenLimit { try flush() }
            return hash
        }
        if !contains(hash) { try store(bytes, as: hash) }
        return hash
    }

    /// Writes the objects kept in memory (those the store did not have).
    public func flush() throws(SystemError) {
        let pending = unwritten.withLock { $0.objects }
        for (hash, bytes) in pending {
            if access(path(of: hash).cPath, F_OK) != 0 { try store(bytes, as: hash) }
            unwritten.withLock { held in
                if held.objects.removeValue(forKey: hash) != nil { held.bytes -= bytes.count }
            }
        }
    }

    private func store(_ bytes: [UInt8], as hash: ContentHash) throws(SystemError) {
        let temporary = try newTemporary()
        let file = try FileDescriptor(opening: temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(file.raw, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let error = SystemError("write", path: temporary)
                unlink(temporary)
                throw error
            }
            done += n
        }
        try settle(temporary, as: hash)
    }

    /// Stores the rest of the open file `input` (`shown` in errors), hashing it as it is
    /// copied. Nil when the file changed while it was read (its size or times moved): it must
    /// not be stored torn. `before` is what `lstat` said of it before it was opened: the same
    /// file (inode and device) with the same size and times.
    public func put(file input: Int32, before: FileInfo, shown: String) throws(SystemError) -> (
        hash: ContentHash, size: Int64
    )? {
        if before.size < Self.smallFile {
            guard let bytes = try Self.readAll(input, limit: Self.smallFile, expected: Int(before.size), shown: shown),
                Self.held(input, before),
                bytes.count == before.size
            else { return nil }
            return (try put(bytes), Int64(bytes.count))
        }
        let temporary = try newTemporary()
        let output = try FileDescriptor(opening: temporary, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600)
        let hasher = StrongHash.Stream(seed: seed)
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        var total: Int64 = 0
        do throws(SystemError) {
            // A reflink clone is a still copy however the source is written meanwhile: hashed from it.
            let cloned = FileSystem.clone(input, into: output.raw, size: before.size, orCopy: false)
            let from = cloned ? output.raw : input
            while true {
                let n = buffer.withUnsafeMutableBytes { pread(from, $0.baseAddress, $0.count, off_t(total)) }
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw SystemError("read", path: shown) }
                if n == 0 { break }
                buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
                if !cloned { try Self.writeAll(output.raw, buffer, n, offset: total, shown: temporary) }
                total += Int64(n)
            }
        } catch {
            unlink(temporary)
            throw error
        }
        guard Self.held(input, before), total == before.size else {
            unlink(temporary)
            return nil
        }
        let hash = ContentHash(hasher.finish())
        if contains(hash) { unlink(temporary) } else { try settle(temporary, as: hash) }
        return (hash, total)
    }

    /// An object's bytes (a tree or a template: at most `limit` bytes).
    public func read(_ hash: ContentHash, limit: Int = 64 << 20) throws(SystemError) -> [UInt8] {
        if let bytes = unwritten.withLock({ $0.objects[hash] }) { return bytes }
        let file = try open(hash)
        guard let bytes = try Self.readAll(file.raw, limit: limit, shown: path(of: hash)) else {
            throw SystemError("read (an object over \(limit) bytes)", path: path(of: hash), code: nil)
        }
        return bytes
    }

    /// An object, open for reading (one not written yet, as a file in memory).
    public func open(_ hash: ContentHash) throws(SystemError) -> FileDescriptor {
        if let bytes = unwritten.withLock({ $0.objects[hash] }) {
            let fd = memfd_create("runner-object", 1)  // MFD_CLOEXEC
            guard fd >= 0 else { throw SystemError("memfd_create") }
            let file = FileDescriptor(taking: fd)
            try Self.writeAll(fd, bytes, bytes.count, offset: 0, shown: "an object in memory")
            return file
        }
        do { return try FileDescriptor(opening: path(of: hash), O_RDONLY | O_NOFOLLOW) } catch {
            if error.code == ENOENT {
                throw SystemError("read (the content store lost this object)", path: path(of: hash), code: ENOENT)
            }
            throw error
        }
    }

    /// Removes every object not in `live`; returns how many and their bytes.
    public func collect(keeping live: Set<ContentHash>) -> (objects: Int, bytes: Int64) {
        var removed = 0, bytes: Int64 = 0
        unwritten.withLock { pending in
            pending.objects = pending.objects.filter { live.contains($0.key) }
            pending.bytes = pending.objects.values.reduce(0) { $0 + $1.count }
        }
        for prefix in DirectoryEntries.sorted(at: directory) where prefix.count == 2 {
            for rest in DirectoryEntries.sorted(at: directory + "/" + prefix) {
                guard let hash = ContentHash(hex: prefix + rest), !live.contains(hash) else { continue }
                let full = directory + "/" + prefix + "/" + rest
                let size = FileInfo.lstat(full)?.size ?? 0
                if unlink(full) == 0 {
                    removed += 1
                    bytes += size
                }
            }
        }
        return (removed, bytes)
    }

    private func newTemporary() throws(SystemError) -> String {
        directory + "/tmp/\(getpid())-\(counter.add(1, ordering: .relaxed).newValue)"
    }

    /// Renames a written temporary file to its hash's name.
    private func settle(_ temporary: String, as hash: ContentHash) throws(SystemError) {
        let final = path(of: hash)
        if rename(temporary.cPath, final.cPath) != 0 {
            guard errno == ENOENT else {
                let error = SystemError("rename", path: final)
                unlink(temporary)
                throw error
            }
            // The first object under this prefix: its directory is made now.
            mkdir(String(final[..<final.lastIndex(of: "/")!]).cPath, 0o700)
            guard rename(temporary.cPath, final.cPath) == 0 else {
                let error = SystemError("rename", path: final)
                unlink(temporary)
                throw error
            }
        }
    }

    /// Whether the file still has the size and times it had when opened.
    private static func held(_ fd: Int32, _ before: FileInfo) -> Bool {
        var st = stat()
        return fstat(fd, &st) == 0 && FileInfo(st) == before
    }

    /// The rest of a file, or nil when it has more than `limit` bytes.
    static func readAll(_ fd: Int32, limit: Int, expected: Int = 1 << 16, shown: String) throws(SystemError)
        -> [UInt8]?
    {
        var bytes: [UInt8] = []
        // One byte past what is expected, so that the end is seen without a buffer to clear.
        var buffer = [UInt8](repeating: 0, count: min(1 << 16, max(512, expected + 1)))
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw SystemError("read", path: shown) }
            if n == 0 { return bytes }
            bytes += buffer[..<n]
            if bytes.count > limit { return nil }
            // A short read of all that was expected is the end (a regular file reads short
            // only there): the read that would say 0 is spared. The caller's fstat after it
            // sees a file that grew meanwhile.
            if n < buffer.count && bytes.count == expected { return bytes }
        }
    }

    private static func writeAll(_ fd: Int32, _ buffer: [UInt8], _ count: Int, offset: Int64, shown: String)
        throws(SystemError)
    {
        var done = 0
        while done < count {
            let n = buffer.withUnsafeBytes {
                pwrite(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SystemError("write", path: shown) }
            done += n
        }
    }
}
