import Foundation
import RunnerSystem
import TestSupport
import Testing

@testable import Pipeline

/// A file's owner and mode are its final ones before it leaves staging: the inode the commit
/// renames into the tree is never readable by anyone its mode and owner do not allow, and
/// nothing is changed on it once it is there. A rollback puts the old owner back.
@Suite struct StagedOwnerTests {
    static func owner(_ path: String) -> String {
        let info = FileInfo.lstat(path)
        return info.map { "\($0.uid):\($0.gid) \(String($0.mode, radix: 8))" } ?? "absent"
    }

    @Test func aSecretIsStagedWithItsFinalOwnerAndModeAndRenamedAsItIs() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("tree/app.env", "OLD=1\n", mode: 0o600)
        let area = try StagingArea(tree: dir.at("tree"), durable: false, recover: true)
        let stager = try area.begin()
        #expect(Self.owner(stager.staging.root) == "0:0 700")
        let path = try RelativePath(validating: "app.env")
        let file = try stager.createFile(for: path, mode: 0o640)
        #expect(write(file.raw, "DB_PASSWORD=hunter2\n", 20) == 20)
        let wanted = FileInfo(
            kind: .file, mode: 0o640, size: 20, mtimeSeconds: 1_700_000_000, mtimeNanoseconds: 0, uid: 0, gid: 33)
        try stager.placeFile(path, file, info: wanted)
        let staged = stager.staging.root + "/" + BatchApplier.stagedName(0)
        #expect(Self.owner(staged) == "0:33 640")
        let inode = FileInfo.lstat(staged)?.inode
        let counts = try stager.commit(holding: true)
        #expect(counts.written == 1)
        #expect(Self.owner(dir.at("tree/app.env")) == "0:33 640")
        #expect(FileInfo.lstat(dir.at("tree/app.env"))?.inode == inode, "the staged inode itself is in the tree")

        // Refused by its check: the old file, with its old owner and mode, is back.
        try stager.applier.rollBackHeld()
        #expect(Self.owner(dir.at("tree/app.env")) == "0:0 600")
        #expect(try String(contentsOfFile: dir.at("tree/app.env"), encoding: .utf8) == "OLD=1\n")
    }

    @Test func aChangeOfOwnerAloneIsJournaledAndRolledBack() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("tree/www.conf", "[www]\n")
        #expect(chown(dir.at("tree/www.conf"), 33, 33) == 0)
        let area = try StagingArea(tree: dir.at("tree"), durable: false, recover: true)
        let stager = try area.begin()
        var info = FileInfo.lstat(dir.at("tree/www.conf"))!
        info.uid = 65534
        info.gid = 65534
        stager.attributes(try RelativePath(validating: "www.conf"), info: info)
        _ = try stager.commit(holding: true)
        #expect(Self.owner(dir.at("tree/www.conf")) == "65534:65534 644")
        try stager.applier.rollBackHeld()
        #expect(Self.owner(dir.at("tree/www.conf")) == "33:33 644")
    }
}
