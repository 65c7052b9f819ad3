import RunnerSystem

/// The receiver's whole tree as the planner walks it: a directory is listed (LIST) when
/// the walk first looks inside it, and the directories the walk will enter next (those the
/// listings held show as directories on both sides) are asked for ahead, so that the
/// receiver lists them while the walk goes on; the directories the walk has left are
/// forgotten. A sync of a module of a million files holds a few directories' entries, not
/// the tree. Every answer is read before the batch is written to (`settle`), so the batch
/// never meets a listing coming the other way.
///
/// What the receiver sends is held to what was asked: each answer is the directory asked
/// for, then entries directly in it, each with a safe name, once; the directories held
/// stay within `RemoteListing.maxBytes` of the sender's memory.
final class RemoteTreeView: TargetView {
    /// Directories asked for ahead of the walk, at most.
    static let directoriesAhead = 64

    private let connection: RemoteConnection
    private let source: any SourceTree
    /// Listed directories by path; `info` nil: nothing there, or not a directory.
    private var listed: [String: Listed] = [:]
    private var bytes = 0
    /// Directories asked for whose answers are still to be read, in the order they come.
    private var asked: [String] = []
    private var askedSet = Set<String>()

    private struct Listed {
        var info: FileInfo?
        /// By name; the path is the directory's and the name (counted as sent, held without).
        var entries: [String: (info: FileInfo, link: String?)] = [:]
        /// The names of `entries`, sorted.
        var names: [String] = []
        var bytes = 0
    }

    init(over connection: RemoteConnection, source: any SourceTree) {
        self.connection = connection
        self.source = source
    }

    func info(_ path: String) throws -> FileInfo? {
        if path.isEmpty { return try directory("").info }
        let (parent, name) = RelativePath.split(path)
        return try directory(parent).entries[name]?.info
    }

    func list(_ path: String) throws -> [String] { try directory(path).names }

    func readLink(_ path: String) throws -> String? {
        let (parent, name) = RelativePath.split(path)
        return try directory(parent).entries[name]?.link
    }

    /// Reads every answer still due: the connection is then free for the batch.
    func settle() throws {
        while !asked.isEmpty { try readAnswer() }
    }

    /// The listing of the directory at `path`: empty when the receiver has none there.
    private func directory(_ path: String) throws -> Listed {
        if let known = listed[path] { return known }
        if !path.isEmpty, try info(path)?.kind != .directory { return Listed() }
        // Looked over now and then, not at every step: the walk leaves a directory at a time.
        if listed.count > 4 * Self.directoriesAhead || bytes > RemoteListing.maxBytes / 8 { forget(before: path) }
        if !askedSet.contains(path) {
            try settle()
            try ask([path] + upcoming(after: path, limit: Self.directoriesAhead - 1))
        }
        while listed[path] == nil, !asked.isEmpty { try readAnswer() }
        if asked.count <= Self.directoriesAhead / 2 {
            try ask(upcoming(after: path, limit: Self.directoriesAhead - asked.count))
        }
        return listed[path] ?? Listed()
    }

    private func ask(_ directories: [String]) throws {
        guard !directories.isEmpty else { return }
        connection.clock.step = "waiting for the listing"
        try connection.request(.list(paths: directories))
        asked += directories
        askedSet.formUnion(directories)
    }

    private func readAnswer() throws {
        let directory = asked.removeFirst()
        askedSet.remove(directory)
        let answer = try receive(directory)
        bytes += answer.bytes
        guard bytes <= RemoteListing.maxBytes else {
            throw WireError(
                "the listing passed \(RemoteListing.maxBytes >> 20) MiB at '\(directory)' (more than this sender plans against at once)"
            )
        }
        listed[directory] = answer
    }

    /// Up to `limit` directories the walk will enter after `path`, in its order, as far as
    /// the listings held show: directories here and in the source, not asked for yet. It
    /// looks at so many entries at most: a directory of many files and a few directories
    /// is not read through again at each of them.
    private func upcoming(after path: String, limit: Int) -> [String] {
        var found: [String] = []
        var budget = 64 * Self.directoriesAhead
        func collect(in directory: String, from start: Int) {
            guard let listing = listed[directory] else { return }
            var index = start
            while index < listing.names.count, found.count < limit, budget > 0 {
                let name = listing.names[index]
                index += 1
                budget -= 1
                guard listing.entries[name]?.info.kind == .directory else { continue }
                let child = directory.isEmpty ? name : directory + "/" + name
                if listed[child] != nil {
                    collect(in: child, from: 0)
                } else if !askedSet.contains(child), (try? source.info(child))?.kind == .directory {
                    found.append(child)
                }
            }
        }
        collect(in: path, from: 0)
        var current = path
        while !current.isEmpty, found.count < limit, budget > 0 {
            let (parent, name) = RelativePath.split(current)
            let names = listed[parent]?.names ?? []
            let index = Self.lowerBound(names, name)
            collect(in: parent, from: index < names.count && names[index] == name ? index + 1 : index)
            current = parent
        }
        return found
    }

    /// One directory's answer: its own entry, then the entries in it, then SCAN_END.
    private func receive(_ directory: String) throws(WireError) -> Listed {
        var answer = Listed()
        var first = true
        while true {
            let message = try connection.reader.receive()
            if case .scanEnd = message {
                answer.names.sort()
                return answer
            }
            guard case .entry(let e) = message else { throw WireError("expected an entry, got \(message.frameType)") }
            if first {
                guard e.path.utf8.elementsEqual(directory.utf8) else {
                    throw WireError("the listing of '\(directory)' began with '\(e.path)'")
                }
                first = false
                answer.info = e.info
                continue
            }
            // Directly in it: the directory's path (checked when it was asked for), a slash, a name.
            let prefix = directory.isEmpty ? 0 : directory.utf8.count + 1
            let rest = e.path.utf8.dropFirst(prefix)
            guard answer.info?.kind == .directory, e.path.utf8.starts(with: directory.utf8),
                prefix == 0 || e.path.utf8.dropFirst(prefix - 1).first == UInt8(ascii: "/"),
                !rest.contains(UInt8(ascii: "/"))
            else {
                try RemoteListing.checkPath(e.path)  // the graver fault first: an unsafe path
                throw WireError("the listing of '\(directory)' names '\(e.path)', which is not in it")
            }
            let name = String(Substring(rest))
            do throws(TransferError) { try RelativePath.checkName(Substring(rest), of: e.path) } catch {
                throw WireError("the listing names '\(e.path)': \(error.message)")
            }
            guard answer.entries.updateValue((e.info, e.link), forKey: name) == nil else {
                throw WireError("the listing names '\(e.path)' twice")
            }
            answer.names.append(name)
            answer.bytes += RemoteListing.entryCost(e.path)
            guard answer.bytes <= RemoteListing.maxBytes else {
                throw WireError("the listing passed \(RemoteListing.maxBytes >> 20) MiB in '\(directory)'")
            }
        }
    }

    /// Forgets the directories the walk has left: those before `path` in its order that
    /// are not above it.
    private func forget(before path: String) {
        let components = path.split(separator: "/")
        for (directory, answer) in listed {
            let other = directory.split(separator: "/")
            guard !components.starts(with: other), other.lexicographicallyPrecedes(components) else { continue }
            bytes -= answer.bytes
            listed[directory] = nil
        }
    }

    /// The first index of `sorted` whose name is not before `name`.
    private static func lowerBound(_ sorted: [String], _ name: String) -> Int {
        var low = 0, high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < name { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
