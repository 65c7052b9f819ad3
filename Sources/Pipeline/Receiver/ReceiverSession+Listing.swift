import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

extension ReceiverSession {
    /// Lists each requested path's ancestors (stopping at the first that is not a
    /// directory), then the path and, for a directory, everything below it.
    func scan(_ raw: [String]) throws(WireError) {
        var paths: [RelativePath?] = []
        for p in raw { paths.append(try Self.path(p)) }
        var sent = Set<String>()
        listedFiles = []
        func send(_ p: String, _ info: FileInfo, link: String?) throws(WireError) {
            guard sent.insert(p).inserted else { return }
            if info.kind == .file { listedFiles?.insert(p) }
            try writer.send(.entry(WireEntry(path: p, info: info, link: link)))
        }
        for path in paths {
            var components: [String] = []
            var reachable = true
            for c in path?.components.dropLast() ?? [] {
                components.append(c)
                let p = try Self.path(components.joined(separator: "/"))!
                guard let info = tree.info(p) else { reachable = false; break }
                try send(p.description, info, link: nil)
                if info.kind != .directory { reachable = false; break }
            }
            if reachable { try walk(path, send: send) }
        }
        try writer.send(.scanEnd)
    }

    private func walk(_ path: RelativePath?, send: (String, FileInfo, String?) throws(WireError) -> Void)
        throws(WireError)
    {
        let directory: FileDescriptor
        if let path {
            guard let info = tree.info(path) else { return }
            try send(path.description, info, info.kind == .symlink ? readLink(path) : nil)
            guard info.kind == .directory, let opened = try? tree.openDirectory(path.components[...], create: false)
            else { return }
            directory = opened
        } else {
            var st = stat()
            fstat(tree.rootFD, &st)
            try send("", FileInfo(st), nil)
            guard let opened = try? tree.openDirectory([], create: false) else { return }
            directory = opened
        }
        let names = (try? DirectoryEntries.names(of: directory)) ?? []
        for n in names.sorted() {
            try walk(try Self.path(path.map { "\($0)/\(n)" } ?? n), send: send)
        }
    }

    /// Lists each requested directory: its own entry, the entries directly in it (sorted),
    /// then SCAN_END; only SCAN_END when there is nothing there. The walk never follows a
    /// symlink: a directory reached through one is not listed.
    func list(_ raw: [String]) throws(WireError) {
        if listedDirectories == nil { listedDirectories = [] }
        for p in raw {
            let path = try Self.path(p)
            if let directory = try? tree.openDirectory(path?.components[...] ?? [], create: false) {
                try list(p, directory)
                listedDirectories?.insert(p)
            } else if let path, let info = tree.info(path) {
                // Not a directory, or one not to enter: its own entry only.
                let link = info.kind == .symlink ? readLink(path) : nil
                try writer.send(.entry(WireEntry(path: p, info: info, link: link)))
            }
            try writer.send(.scanEnd)
        }
    }

    private func list(_ p: String, _ directory: borrowing FileDescriptor) throws(WireError) {
        var st = stat()
        guard fstat(directory.raw, &st) == 0 else { return }
        try writer.send(.entry(WireEntry(path: p, info: FileInfo(st), link: nil)))
        for (name, info) in DirectoryEntries.withInfo(of: directory, shown: module.path + "/" + p) {
            let link = info.kind == .symlink ? FileSystem.readLink(at: directory.raw, name) : nil
            try writer.send(.entry(WireEntry(path: p.isEmpty ? name : p + "/" + name, info: info, link: link)))
        }
    }

    /// Whether the plan a FILE was sent by saw this path's directory, so that a file
    /// sent whole is compared with the module's copy only where there can be one.
    func wasListed(_ path: RelativePath) -> Bool {
        if let listedDirectories {
            return listedDirectories.contains(RelativePath.split(path.description).parent)
                || listedFiles?.contains(path.description) == true
        }
        return listedFiles?.contains(path.description) ?? true
    }

    private func readLink(_ path: RelativePath) -> String? {
        guard let parent = try? tree.openDirectory(path.parent, create: false) else { return nil }
        return FileSystem.readLink(at: parent.raw, path.name)
    }

    /// Opens a regular file of the module for reading, without following symlinks; nil when there is none.
    func openBasis(_ path: RelativePath) -> FileDescriptor? {
        guard let parent = try? tree.openDirectory(path.parent, create: false),
            let file = try? FileDescriptor(
                at: parent.raw, path.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, shown: path.description)
        else { return nil }
        var st = stat()
        guard fstat(file.raw, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        return file
    }

    /// Sends the block sums of each requested file that exists as a regular file.
    func sums(_ seed: UInt64, _ raw: [String]) throws(WireError) {
        for (index, p) in raw.enumerated() {
            guard let path = try Self.path(p) else { throw WireError("empty path") }
            summedFiles.insert(path.description)
            var sums: BlockSums?
            if let file = openBasis(path) { sums = BlockSums.of(file.raw, seed: seed) }
            try writer.send(.sum(index: index, sums: sums))
        }
    }

    /// Sends the signature of each requested file that exists as a regular file.
    func signatures(_ raw: [String], seed: UInt64) throws(WireError) {
        var paths: [RelativePath] = []
        for p in raw {
            guard let path = try Self.path(p) else { throw WireError("empty path") }
            paths.append(path)
        }
        let chunk = writer.limits.maxFrame - 64
        for (index, path) in paths.enumerated() {
            guard let file = openBasis(path) else {
                try writer.send(.signatureEnd(index: index, present: false))
                continue
            }
            var st = stat()
            fstat(file.raw, &st)
            let writer = self.writer
            var failure: WireError?
            let sink = ByteWriter(name: "signature", capacity: chunk) { (bytes) throws(DeltaError) in
                do throws(WireError) {
                    try writer.send(.signatureData(index: index, bytes: Array(bytes)))
                } catch {
                    failure = error
                    throw DeltaError(error.message)
                }
            }
            do throws(DeltaError) {
                let sig = try Signature.compute(
                    reading: ByteReader(fd: file.raw, name: path.description), fileSize: Int64(st.st_size),
                    seed: Self.signatureSeed(seed))
                try sig.write(to: sink)
                try sink.flush()
            } catch {
                throw failure ?? WireError("signature of \(path): \(error.message)")
            }
            try writer.send(.signatureEnd(index: index, present: true))
        }
    }

    /// Sends the content of each requested regular file (for `--dry-run`'s diffs), up to
    /// `WireMessage.maxContent` bytes each.
    func read(_ raw: [String]) throws(WireError) {
        for (index, p) in raw.enumerated() {
            guard let path = try Self.path(p), let file = openBasis(path) else {
                try writer.send(.content(index: index, state: .absent, bytes: []))
                continue
            }
            var bytes = [UInt8](repeating: 0, count: WireMessage.maxContent + 1)
            var count = 0
            while count < bytes.count {
                let n = bytes.withUnsafeMutableBytes { Glibc.read(file.raw, $0.baseAddress! + count, $0.count - count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                count += n
            }
            let state: WireMessage.ContentState = count > WireMessage.maxContent ? .tooLarge : .present
            try writer.send(
                .content(index: index, state: state, bytes: state == .present ? Array(bytes[..<count]) : []))
        }
    }

    /// The seed of a signature: the sender's, fresh for each content it sends, so that no
    /// one can write blocks that collide under it in advance. A debug build (the tests')
    /// takes it from `RUNNER_DEBUG_SIGNATURE_SEED` when set, so that a test can plant such
    /// blocks and watch the transfer recover.
    private static func signatureSeed(_ asked: UInt64) -> UInt64 {
        #if DEBUG
            if let fixed = getenv("RUNNER_DEBUG_SIGNATURE_SEED").flatMap({ UInt64(String(cString: $0)) }) {
                return fixed
            }
        #endif
        return asked
    }
}
