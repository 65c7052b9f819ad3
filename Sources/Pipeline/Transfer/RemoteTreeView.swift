import RunnerSystem

/// The receiver's whole tree as the planner walks it: a directory is listed (LIST) when
/// the walk first looks inside it, together with the next directories the walk will enter
/// after it (its later siblings that are directories on both sides), in one round trip;
/// the directories the walk has left are forgotten. A sync of a module of a million files
/// holds a few directories' entries, not the tree. Each answer is read whole before the
/// walk goes on, so the batch it sends meanwhile never meets a listing coming the other way.
///
/// What the receiver sends is held to what was asked: each answer is the directory asked
/// for, then entries directly in it, each with a safe name, once; the directories held
/// stay within `RemoteListing.maxBytes` of the sender's memory.
final class RemoteTreeView: TargetView {
    /// Directories asked for in one LIST: the one the walk needs, and the next ones.
    static let directoriesPerRequest = 64

    private let connection: RemoteConnection
    private let source: SourceTree
    /// Listed directories by path; `info` nil: nothing there, or not a directory.
    private var listed: [String: Listed] = [:]
    private var bytes = 0

    private struct Listed {
        var info: FileInfo?
        var entries: [String: WireEntry] = [:]
        /// The names of `entries`, sorted.
        var names: [String] = []
        var bytes = 0
    }

    init(over connection: RemoteConnection, source: SourceTree) {
        self.connection = connection
        self.source = source
    }

    func info(_ path: String) throws -> FileInfo? {
        if path.isEmpty { return try directory("").info }
        let (parent, name) = Self.split(path)
        return try directory(parent).entries[name]?.info
    }

    func list(_ path: String) throws -> [String] { try directory(path).names }

    func readLink(_ path: String) throws -> String? {
        let (parent, name) = Self.split(path)
        return try directory(parent).entries[name]?.link
    }

    /// The listing of the directory at `path`: empty when the receiver has none there.
    private func directory(_ path: String) throws -> Listed {
        if let known = listed[path] { return known }
        if !path.isEmpty, try info(path)?.kind != .directory { return Listed() }
        try fetch(path)
        return listed[path] ?? Listed()
    }

    /// Lists `path`, and the later siblings the walk will enter next, in one round trip.
    private func fetch(_ path: String) throws {
        forget(before: path)
        var wanted = [path]
        if !path.isEmpty, let siblings = listed[Self.split(path).parent] {
            let parent = Self.split(path).parent
            var index = Self.lowerBound(siblings.names, Self.split(path).name)
            while wanted.count < Self.directoriesPerRequest, index + 1 < siblings.names.count {
                index += 1
                let name = siblings.names[index]
                let child = parent.isEmpty ? name : parent + "/" + name
                guard listed[child] == nil, siblings.entries[name]?.info.kind == .directory,
                    source.info(child)?.kind == .directory
                else { continue }
                wanted.append(child)
            }
        }
        connection.clock.step = "waiting for the listing"
        try connection.request(.list(paths: wanted))
        for directory in wanted {
            let answer = try receive(directory)
            bytes += answer.bytes
            guard bytes <= RemoteListing.maxBytes else {
                throw WireError(
                    "the listing passed \(RemoteListing.maxBytes >> 20) MiB at '\(directory)' (more than this sender plans against at once)"
                )
            }
            listed[directory] = answer
        }
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
            try RemoteListing.checkPath(e.path)
            if first {
                guard e.path == directory else {
                    throw WireError("the listing of '\(directory)' began with '\(e.path)'")
                }
                first = false
                answer.info = e.info
                continue
            }
            let (parent, name) = Self.split(e.path)
            guard answer.info?.kind == .directory, parent == directory else {
                throw WireError("the listing of '\(directory)' names '\(e.path)', which is not in it")
            }
            guard answer.entries.updateValue(e, forKey: name) == nil else {
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

    private static func split(_ path: String) -> (parent: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]))
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
