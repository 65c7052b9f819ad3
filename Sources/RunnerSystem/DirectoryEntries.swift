#if canImport(Glibc)
import Glibc
#endif

/// The names in a directory, without `.` and `..`: the one place `readdir` and its
/// fixed-size `d_name` are decoded.
public enum DirectoryEntries {
    /// The names in the directory open as `directory` (which this consumes), unsorted.
    public static func names(of directory: consuming FileDescriptor) throws(SystemError) -> [String] {
        let fd = directory.release()
        guard let stream = fdopendir(fd) else {
            let error = SystemError("opendir")
            close(fd)
            throw error
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The names in the directory at `path`, sorted; empty when it cannot be read.
    public static func sorted(at path: String) -> [String] {
        guard let directory = try? FileDescriptor(opening: path, O_RDONLY | O_DIRECTORY) else { return [] }
        return ((try? names(of: directory)) ?? []).sorted()
    }
}
