import RunnerSystem
import Testing

@testable import Pipeline

/// What a sender or receiver of before owners left on disk still reads: a tree object stored
/// without owners reads as entries whose owner is left as it is, and a batch journal written
/// without owners still rolls its batch back.
@Suite struct BeforeOwnersFormatTests {
    @Test func aTreeObjectStoredBeforeOwnersReadsOwnerless() throws {
        // Tag "T", one entry: name, kind (file), mode, size, mtime, hash: the old layout.
        var b = PayloadBuilder()
        b.u8(0x54)
        b.varint(1)
        b.string("www.conf")
        b.u8(0)
        b.varint(0o640)
        b.varint(12)
        b.i64(1_700_000_000)
        b.u32(5)
        b.append([UInt8](repeating: 7, count: 16))
        guard case .entries(let tree) = try TreeObject.decode(b.bytes, shown: "old") else {
            Issue.record("not entries")
            return
        }
        let entry = try #require(tree["www.conf"])
        #expect(entry.mode == 0o640 && entry.size == 12 && entry.mtimeNanoseconds == 5)
        #expect(entry.uid == FileInfo.unchanged && entry.gid == FileInfo.unchanged)
        #expect(try TreeObject.references(b.bytes, shown: "old").files.count == 1)
        // Stored again, it is the new layout, with its owner.
        var owned = entry
        (owned.uid, owned.gid) = (0, 33)
        var again = TreeObject()
        again.append("www.conf", owned)
        guard case .entries(let read) = try TreeObject.decode(again.encode(0..<1), shown: "new") else {
            Issue.record("not entries")
            return
        }
        #expect(read["www.conf"] == owned)
    }

    @Test func aJournalWrittenBeforeOwnersStillReads() throws {
        let old = "attributes\t420\t1700000000\t5\t7777772e636f6e66\ndirectory\t1\t0\t493\t1700000000\t0\t737562\n"
        let journal = try BatchJournal.decode(old)
        guard case .attributes(let path, let was) = journal.entries.first,
            case .directory(let dir, 1, false, let dirWas) = journal.entries.last
        else {
            Issue.record("\(journal.entries)")
            return
        }
        #expect(path.description == "www.conf" && was.mode == 0o644 && was.uid == FileInfo.unchanged)
        #expect(dir.description == "sub" && dirWas.mode == 0o755)
        // And what is written now reads back with its owners.
        var owned = was
        (owned.uid, owned.gid) = (33, 33)
        let now = BatchJournal(entries: [.attributes(path: path, old: owned)])
        #expect(try BatchJournal.decode(now.encoded()).entries == now.entries)
    }
}
