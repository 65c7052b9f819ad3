import RunnerSystem

/// The owners of one session's entries as they cross the wire, as `rsync -a` sends them: by
/// name, each id's name once (an OWNERS message before the first entry that has it), mapped
/// to this host's id of that name on the way in; an id that has no name on either side
/// stays the number it is. `numeric` sends and reads numbers only (`numeric_ids`).
///
/// A receiver's own policy rides here too: not running as root, or with a module that
/// forces an owner, it applies that part as it decides (`user`/`group`, which may be
/// `FileInfo.unchanged`) and lists it as unchanged, so the sender neither compares nor
/// resends it. One table serves a session's reader and writer (one thread).
final class OwnerTable {
    /// Sends and reads ids only.
    let numeric: Bool
    /// The user every entry gets here, whatever was sent; nil: the one sent (mapped).
    let user: UInt32?
    /// The group every entry gets here; nil: the one sent (mapped).
    let group: UInt32?
    private var namedUsers = Set<UInt32>(), namedGroups = Set<UInt32>()
    /// The names the peer gave its ids, and what each came to here (looked up at first use).
    private var userNames: [UInt32: String] = [:], groupNames: [UInt32: String] = [:]
    private var users: [UInt32: UInt32] = [:], groups: [UInt32: UInt32] = [:]
    private var learned = 0

    /// Names a peer may give in one session: more is a peer filling memory.
    static let maxNames = 65_536

    init(numeric: Bool = false, user: UInt32? = nil, group: UInt32? = nil) {
        self.numeric = numeric
        self.user = user
        self.group = group
    }

    /// An entry on its way out, as this end has it (an owner it sets itself is unchanged),
    /// and the names of its ids the peer has not been given yet.
    func outgoing(_ info: FileInfo) -> (info: FileInfo, names: OwnerNames?) {
        var info = info
        if user != nil { info.uid = FileInfo.unchanged }
        if group != nil { info.gid = FileInfo.unchanged }
        guard !numeric else { return (info, nil) }
        var names = OwnerNames()
        if info.uid != FileInfo.unchanged, namedUsers.insert(info.uid).inserted {
            names.users[info.uid] = UserDatabase.userName(info.uid)
        }
        if info.gid != FileInfo.unchanged, namedGroups.insert(info.gid).inserted {
            names.groups[info.gid] = UserDatabase.groupName(info.gid)
        }
        return (info, names.isEmpty ? nil : names)
    }

    /// Takes the names the peer gave (looked up here when an entry first has the id).
    func learn(_ names: OwnerNames) throws(WireError) {
        learned += names.users.count + names.groups.count
        guard learned <= Self.maxNames else { throw WireError("the peer named more than \(Self.maxNames) owners") }
        guard !numeric else { return }
        userNames.merge(names.users) { _, given in given }
        groupNames.merge(names.groups) { _, given in given }
    }

    /// An entry on its way in, with the owner it gets here.
    func incoming(_ info: FileInfo) -> FileInfo {
        var info = info
        info.uid = user ?? Self.local(info.uid, names: userNames, known: &users, lookup: UserDatabase.uid(named:))
        info.gid = group ?? Self.local(info.gid, names: groupNames, known: &groups, lookup: UserDatabase.gid(named:))
        return info
    }

    /// This host's id for the peer's `id`: the one of the same name, else the number itself.
    private static func local(
        _ id: UInt32, names: [UInt32: String], known: inout [UInt32: UInt32], lookup: (String) -> UInt32?
    ) -> UInt32 {
        guard id != FileInfo.unchanged, let name = names[id] else { return id }
        if let mapped = known[id] { return mapped }
        let mapped = lookup(name) ?? id
        known[id] = mapped
        return mapped
    }
}

/// Users' and groups' names by id, as one end knows them (an OWNERS message).
struct OwnerNames: Equatable {
    var users: [UInt32: String] = [:]
    var groups: [UInt32: String] = [:]

    var isEmpty: Bool { users.isEmpty && groups.isEmpty }

    /// Ids a message names at most.
    static let maxCount = 4096

    func encode(_ b: inout PayloadBuilder) {
        for table in [users, groups] {
            b.varint(UInt64(table.count))
            for (id, name) in table.sorted(by: { $0.key < $1.key }) {
                b.varint(UInt64(id))
                b.string(name)
            }
        }
    }

    static func decode(_ r: inout PayloadReader) throws(WireError) -> OwnerNames {
        var names = OwnerNames()
        for groups in [false, true] {
            let count = try r.varint()
            guard count <= UInt64(maxCount) else { throw WireError("an owner list of \(count) names") }
            for _ in 0..<count {
                let id = try r.varint()
                guard id < UInt64(FileInfo.unchanged) else { throw WireError("owner id \(id) is out of range") }
                let name = try r.string(limit: 256)
                if groups { names.groups[UInt32(id)] = name } else { names.users[UInt32(id)] = name }
            }
        }
        return names
    }
}

extension WireMessage {
    /// The entry an entry-bearing message carries, with its owner.
    var entryInfo: FileInfo? {
        switch self {
        case .entry(let e): return e.info
        case .directory(_, let info), .attributes(_, let info), .file(_, let info, _), .symlink(_, _, let info),
            .moved(_, _, let info):
            return info
        default: return nil
        }
    }

    /// The same message with `info` as its entry's.
    func with(_ info: FileInfo) -> WireMessage {
        switch self {
        case .entry(var e):
            e.info = info
            return .entry(e)
        case .directory(let p, _): return .directory(path: p, info: info)
        case .attributes(let p, _): return .attributes(path: p, info: info)
        case .file(let p, _, let hasBasis): return .file(path: p, info: info, hasBasis: hasBasis)
        case .symlink(let p, let d, _): return .symlink(path: p, destination: d, info: info)
        case .moved(let p, let from, _): return .moved(path: p, from: from, info: info)
        default: return self
        }
    }
}
