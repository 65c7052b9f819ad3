#if canImport(Glibc)
    import Glibc
#endif

/// The delta engine on files, like `rdiff`: signature, delta and patch. `-` means
/// standard input or output. A named output is written to a temporary file beside
/// it and renamed into place only on success, so a failure leaves no output.
public enum DeltaFiles {
    /// Writes the signature of `basis` to `output`. A basis read from a pipe is first
    /// copied to an unlinked temporary file: its size decides the block length, so the
    /// same content gets a signature of the same shape however it arrives.
    public static func signature(basis: String, output: String, blockLength: Int? = nil) throws(DeltaError) {
        let opened = try openInput(basis)
        defer { if opened != 0 { close(opened) } }
        var input = opened, size = fileSize(opened)
        if size == nil {
            (input, size) = try spool(opened, name: basis)
        }
        defer { if input != opened { close(input) } }
        try withOutput(output) { (writer) throws(DeltaError) in
            let reader = ByteReader(fd: input, name: basis)
            let sig = try Signature.compute(reading: reader, fileSize: size ?? 0, blockLength: blockLength)
            try sig.write(to: writer)
            try writer.flush()
        }
    }

    /// Writes the delta of `new` against the signature in `signature` to `output`;
    /// with no signature, the whole file (what patching an empty basis rebuilds).
    @discardableResult
    public static func delta(signature: String?, new: String, output: String) throws(DeltaError) -> DeltaStats {
        var sig = Signature.none
        if let signature {
            let sigInput = try openInput(signature)
            defer { if sigInput != 0 { close(sigInput) } }
            sig = try Signature.read(from: ByteReader(fd: sigInput, name: signature))
        }
        let newInput = try openInput(new)
        defer { if newInput != 0 { close(newInput) } }
        var stats = DeltaStats()
        try withOutput(output) { (writer) throws(DeltaError) in
            let encoder = DeltaEncoder(signature: sig, writer: writer)
            try encoder.encode(reading: ByteReader(fd: newInput, name: new))
            stats = encoder.stats
        }
        return stats
    }

    /// Rebuilds the new file from `basis` and `delta` into `output`, verified.
    @discardableResult
    public static func patch(basis: String, delta: String, output: String) throws(DeltaError) -> DeltaStats {
        guard basis != "-" else {
            throw DeltaError("the basis must be a file (it is read at random offsets)", path: basis)
        }
        let basisFD = try openInput(basis)
        defer { close(basisFD) }
        let deltaInput = try openInput(delta)
        defer { if deltaInput != 0 { close(deltaInput) } }
        let patcher = DeltaPatcher()
        var stats = DeltaStats()
        try withOutput(output) { (writer) throws(DeltaError) in
            stats = try patcher.apply(
                basis: basisFD, basisName: basis, reading: ByteReader(fd: deltaInput, name: delta), writingTo: writer)
        }
        return stats
    }

    static func openInput(_ path: String) throws(DeltaError) -> Int32 {
        if path == "-" { return 0 }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DeltaError("cannot open: \(String(cString: strerror(errno)))", path: path) }
        return fd
    }

    static func fileSize(_ fd: Int32) -> Int64? {
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        return Int64(st.st_size)
    }

    /// Copies a stream to an unlinked temporary file (in `$TMPDIR`, else /tmp) and
    /// returns it, rewound, with its size.
    static func spool(_ fd: Int32, name: String) throws(DeltaError) -> (Int32, Int64) {
        let directory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array((directory + "/runner-spool.XXXXXX").utf8CString)
        let spooled = mkstemp(&template)
        guard spooled >= 0 else {
            throw DeltaError(
                "cannot create a temporary file in \(directory): \(String(cString: strerror(errno)))", path: name)
        }
        unlink(template)
        do throws(DeltaError) {
            let reader = ByteReader(fd: fd, name: name)
            let writer = ByteWriter(fd: spooled, name: "temporary copy of \(name)")
            let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { chunk.deallocate() }
            var size: Int64 = 0
            while true {
                let n = try reader.readUpTo(into: chunk.baseAddress!, chunk.count)
                try writer.write(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
                size += Int64(n)
                if n < chunk.count { break }
            }
            try writer.flush()
            guard lseek(spooled, 0, SEEK_SET) == 0 else {
                throw DeltaError("cannot rewind the temporary copy", path: name)
            }
            return (spooled, size)
        } catch {
            close(spooled)
            throw error
        }
    }

    /// Runs `body` with a writer for `path`, the way a careful `cp` would: `-` is standard
    /// output; a symlink is followed to the file it names (created if missing); a device
    /// or FIFO is written in place; a regular file is written to a temporary file beside
    /// it and renamed over it only on success (a failure leaves it untouched). A
    /// replaced file keeps its mode (and owner, for root); a new one gets 0666 less the umask.
    static func withOutput(_ path: String, _ body: (ByteWriter) throws(DeltaError) -> Void) throws(DeltaError) {
        if path == "-" {
            try body(ByteWriter(fd: 1, name: "<stdout>"))
            return
        }
        let target = try followSymlinks(path)
        var st = stat()
        let existing: stat? = stat(target, &st) == 0 ? st : nil
        if let existing, existing.st_mode & S_IFMT != S_IFREG {
            guard existing.st_mode & S_IFMT != S_IFDIR else { throw DeltaError("is a directory", path: path) }
            let fd = open(target, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw DeltaError("cannot open: \(String(cString: strerror(errno)))", path: path) }
            defer { close(fd) }
            try body(ByteWriter(fd: fd, name: path))
            return
        }
        // A new file is created 0666 so that the kernel applies the umask (and a default
        // ACL); a replacement is written 0600 and given the old file's mode at the end,
        // so that a secret is never readable by others meanwhile.
        var temporary = ""
        var fd: Int32 = -1
        while fd < 0 {
            temporary = target + ".runner-tmp." + String(StrongHash.randomSeed() & 0xFF_FFFF_FFFF, radix: 36)
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, existing == nil ? 0o666 : 0o600)
            if fd < 0 && errno != EEXIST {
                throw DeltaError(
                    "cannot create a temporary file beside it: \(String(cString: strerror(errno)))", path: path)
            }
        }
        do throws(DeltaError) {
            try body(ByteWriter(fd: fd, name: path))
            if let existing {
                if geteuid() == 0 { _ = fchown(fd, existing.st_uid, existing.st_gid) }
                guard fchmod(fd, existing.st_mode & 0o7777) == 0 else {
                    throw DeltaError("cannot set the mode", path: path)
                }
            }
            guard close(fd) == 0 else {
                fd = -1
                throw DeltaError("cannot finish writing: \(String(cString: strerror(errno)))", path: path)
            }
            fd = -1
            guard rename(temporary, target) == 0 else {
                throw DeltaError("cannot rename into place: \(String(cString: strerror(errno)))", path: path)
            }
        } catch {
            if fd >= 0 { close(fd) }
            unlink(temporary)
            throw error
        }
    }

    /// The file a path names once its symlinks are followed, even to a target that does
    /// not exist yet (a dangling link names the file to create).
    static func followSymlinks(_ path: String) throws(DeltaError) -> String {
        var current = path
        for _ in 0..<40 {
            var st = stat()
            guard lstat(current, &st) == 0, st.st_mode & S_IFMT == S_IFLNK else { return current }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink(current, &buffer, buffer.count - 1)
            guard n > 0 else {
                throw DeltaError("cannot read the symlink: \(String(cString: strerror(errno)))", path: current)
            }
            let destination = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if destination.hasPrefix("/") {
                current = destination
            } else if let slash = current.lastIndex(of: "/") {
                current = String(current[...slash]) + destination
            } else {
                current = destination
            }
        }
        throw DeltaError("too many levels of symbolic links", path: path)
    }
}
