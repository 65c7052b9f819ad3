import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

extension SourceTree {
    /// Writes `paths` (and the directories above them) into the empty directory `scratch`
    /// with their modes, owners (as root) and times: a program that reads directories (rsync) sends from there
    /// what a revision holds. Paths the tree lacks are left out.
    func export(_ paths: [String], into scratch: String) throws {
        var directories: [String: FileInfo] = [:]
        func makeParents(_ path: String) throws {
            var prefix = ""
            for part in path.split(separator: "/").dropLast() {
                prefix = prefix.isEmpty ? String(part) : prefix + "/" + part
                guard directories[prefix] == nil, let info = try info(prefix) else { continue }
                directories[prefix] = info
                guard mkdir((scratch + "/" + prefix).cPath, 0o700) == 0 || errno == EEXIST else {
                    throw SystemError("mkdir", path: scratch + "/" + prefix)
                }
            }
        }
        for path in paths.sorted() where !path.isEmpty {
            guard let info = try info(path) else { continue }
            try makeParents(path)
            let full = scratch + "/" + path
            switch info.kind {
            case .directory:
                if directories[path] == nil {
                    directories[path] = info
                    guard mkdir(full.cPath, 0o700) == 0 || errno == EEXIST else {
                        throw SystemError("mkdir", path: full)
                    }
                }
            case .file:
                guard let content = try open(path) else { continue }
                let output = try FileDescriptor(opening: full, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600)
                _ = try FileSystem.copy(from: content.file.raw, to: output.raw, path: content.shown)
                if FileInfo.setsOwners { fchown(output.raw, content.info.uid, content.info.gid) }
                fchmod(output.raw, mode_t(content.info.mode))
                var times = [content.info.timespec, content.info.timespec]
                futimens(output.raw, &times)
            case .symlink:
                guard let link = try readLink(path), Glibc.symlink(link.cPath, full.cPath) == 0 else {
                    throw SystemError("symlink", path: full)
                }
                if FileInfo.setsOwners { lchown(full.cPath, info.uid, info.gid) }
                var times = [info.timespec, info.timespec]
                utimensat(AT_FDCWD, full.cPath, &times, AT_SYMLINK_NOFOLLOW)
            case .other:
                continue
            }
        }
        // Directories last, deepest first: what was written in them moved their times.
        for (path, info) in directories.sorted(by: { $0.key > $1.key }) {
            let full = scratch + "/" + path
            if FileInfo.setsOwners { lchown(full.cPath, info.uid, info.gid) }
            chmod(full.cPath, mode_t(info.mode))
            var times = [info.timespec, info.timespec]
            utimensat(AT_FDCWD, full.cPath, &times, AT_SYMLINK_NOFOLLOW)
        }
    }
}
