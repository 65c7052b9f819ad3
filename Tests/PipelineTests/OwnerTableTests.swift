import RunnerSystem
import Testing

@testable import Pipeline

/// Owners across the wire: names go once ahead of the first entry with the id, the other end
/// maps them to its own ids, an id without a name stays a number, and a peer cannot name
/// owners without end.
@Suite struct OwnerTableTests {
    static func info(_ uid: UInt32, _ gid: UInt32) -> FileInfo {
        FileInfo(kind: .file, mode: 0o644, size: 1, mtimeSeconds: 1, mtimeNanoseconds: 0, uid: uid, gid: gid)
    }

    /// What one end's writer puts on the wire for `infos`, read back by the other end's reader.
    static func carry(_ infos: [FileInfo], from sender: OwnerTable, to receiver: OwnerTable) throws -> (
        [FileInfo], names: Int
    ) {
        var names = 0
        var out: [FileInfo] = []
        for info in infos {
            let (sent, announced) = sender.outgoing(info)
            if let announced {
                names += announced.users.count + announced.groups.count
                var b = PayloadBuilder()
                WireMessage.owners(announced).encode(&b)
                guard case .owners(let decoded) = try WireMessage.decode(.owners, b.bytes) else { throw WireError("?") }
                try receiver.learn(decoded)
            }
            out.append(receiver.incoming(sent))
        }
        return (out, names)
    }

    @Test func namesGoOnceAndMapToTheReceiversIds() throws {
        let (got, names) = try Self.carry(
            [Self.info(33, 33), Self.info(33, 0), Self.info(4242, 4242)], from: OwnerTable(), to: OwnerTable())
        // The same host: every name maps to its own id; 4242 has no name and stays a number.
        #expect(got.map(\.uid) == [33, 33, 4242] && got.map(\.gid) == [33, 0, 4242])
        #expect(names == 3, "www-data (user and group) and root's group, each once")
    }

    @Test func numericIdsSendNoNamesAndAModuleOrANonRootReceiverDecides() throws {
        let (numeric, names) = try Self.carry([Self.info(33, 33)], from: OwnerTable(numeric: true), to: OwnerTable())
        #expect(numeric.map(\.uid) == [33] && names == 0)
        let forced = OwnerTable(user: 0, group: 33)
        #expect(forced.incoming(Self.info(65534, 65534)).uid == 0 && forced.incoming(Self.info(1, 1)).gid == 33)
        // What such a receiver lists is not compared by the sender: it sets the owner itself.
        let listed = forced.outgoing(Self.info(0, 33)).info
        #expect(listed.uid == FileInfo.unchanged && listed.gid == FileInfo.unchanged)
        #expect(!Self.info(0, 0).ownerDiffers(from: listed))
    }

    @Test func aPeerNamingOwnersWithoutEndIsRefused() throws {
        let table = OwnerTable()
        var names = OwnerNames()
        for id in 0..<UInt32(OwnerNames.maxCount) { names.users[id] = "u\(id)" }
        for _ in 0..<(OwnerTable.maxNames / OwnerNames.maxCount) { try table.learn(names) }
        #expect(throws: WireError.self) { try table.learn(names) }
    }
}
