#if canImport(Glibc)
import Glibc
#endif

/// The delta engine on files, like `rdiff`: signature, delta and patch. `-` means
/// standard input or output. A named output is written to a temporary file beside
/// it and renamed into place only on success, so a failure leaves no output.
public enum DeltaFiles {
    /// Writes the signature of `basis` to `output`.
    public static func signature(basis: String, output: String, blockLength: Int? = nil) throws(DeltaError) {
        let input = try openInput(basis)
        defer { if input != 0 { close(input) } }
        let size = fileSize(input)
        try withOutput(output) { (writer) throws(DeltaError) in
            let reader = ByteReader(fd: input, name: basis)
            let sig = try Signature.compute(reading: reader, fileSize: size ?? 0, blockLength: blockLength ?? size.map(Signature.blockLength(forFileSize:)))
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
        guard basis != "-" else { throw DeltaError("the basis must be a file (it is read at random offsets)", path: basis) }
        let basisFD = try openInput(basis)
        defer { close(basisFD) }
        let deltaInput = try openInput(delta)
        defer { if deltaInput != 0 { close(deltaInput) } }
        let patcher = try DeltaPatcher(basis: basisFD, name: basis)
        var stats = DeltaStats()
        try withOutput(output) { (writer) throws(DeltaError) in
            stats = try patcher.apply(reading: ByteReader(fd: deltaInput, name: delta), writingTo: writer)
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

    /// Runs `body` with a writer on a temporary file beside `path` (or stdout for `-`),
    /// then renames it into place; on failure the temporary file is removed.
    static func withOutput(_ path: String, _ body: (ByteWriter) throws(DeltaError) -> Void) throws(DeltaError) {
        if path == "-" {
            try body(ByteWriter(fd: 1, name: "<stdout>"))
            return
        }
        // A device or FIFO (/dev/null, a pipe) is written as it is: renaming a
        // temporary file over it would replace it.
        var st = stat()
        if lstat(path, &st) == 0, st.st_mode & S_IFMT != S_IFREG {
            guard st.st_mode & S_IFMT != S_IFDIR else { throw DeltaError("is a directory", path: path) }
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw DeltaError("cannot open: \(String(cString: strerror(errno)))", path: path) }
            defer { close(fd) }
            try body(ByteWriter(fd: fd, name: path))
            return
        }
        var template = Array((path + ".runner-tmp.XXXXXX").utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw DeltaError("cannot create a temporary file: \(String(cString: strerror(errno)))", path: path) }
        let temporary = String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        do throws(DeltaError) {
            try body(ByteWriter(fd: fd, name: path))
            guard fchmod(fd, 0o644) == 0, close(fd) == 0 else { throw DeltaError("cannot finish writing", path: path) }
            guard rename(temporary, path) == 0 else {
                throw DeltaError("cannot rename into place: \(String(cString: strerror(errno)))", path: path)
            }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
    }
}
