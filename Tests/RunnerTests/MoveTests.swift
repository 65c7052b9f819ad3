import Foundation
import TestSupport
import Testing

/// A move in the source is a rename at the target: the file keeps its inode there, a moved
/// directory's files too, and a file moved and edited in one batch costs only the edit.
@Suite struct MoveTests {
    static func inode(_ path: String) -> UInt64? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? NSNumber)?.uint64Value
    }

    /// The `bytes=` of the last batch result logged (`result`: its status).
    static func lastBytes(_ log: String, result: String = "applied") -> Int? {
        log.split(separator: "\n").last { $0.contains(": \(result)") }?.split(separator: " ")
            .first { $0.hasPrefix("bytes=") }.flatMap { Int($0.dropFirst("bytes=".count)) }
    }

    /// How many batch results the log holds: the receiver's tree can match before the
    /// sender has logged the result that made it so.
    static func results(_ log: String) -> Int { log.split(separator: "\n").count { $0.contains(": applied") } }

    @Test(arguments: ["runner", "file"])
    func movesArriveAsRenamesAndAMovedEditedFileSendsOnlyTheEdit(_ scheme: String) async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for d in ["src/dir", "module"] {
            try FileManager.default.createDirectory(atPath: dir.at(d), withIntermediateDirectories: true)
        }
        // Large enough to go as a delta, with lines a delta can match around an edit.
        let big = (0..<6000).map { "; pool line \($0) of a large file\n" }.joined()
        try dir.write("src/a.conf", big)
        try dir.write("src/dir/x.conf", "[x]\n")
        try dir.write("src/dir/y.conf", "[y]\n")
        // Times older than the sender's racy window: size and time then prove the bytes.
        for name in ["a.conf", "dir/x.conf", "dir/y.conf"] {
            try FileManager.default.setAttributes(
                [.modificationDate: Date().addingTimeInterval(-3600)], ofItemAtPath: dir.at("src/\(name)"))
        }
        let (target, daemon) = try await moduleTarget(scheme, in: dir)
        let script = try dir.write(
            "p.lua", "pipeline \"p\" { source = \"src\", to = { \"\(target)\" }, delete = true, delay = 0.3 }\n")
        let runner = try RunnerProcess(["run", script], logDirectory: dir.path)
        #expect(await runner.waitForLog("ready"), "\(runner.stderr)")
        #expect(await eventually { TreeSnapshot(dir.at("src")) == TreeSnapshot(dir.at("module")) })
        let a = Self.inode(dir.at("module/a.conf")), x = Self.inode(dir.at("module/dir/x.conf"))

        // A file move and a directory move: renamed, inodes kept, nothing sent.
        var logged = Self.results(runner.stderr)
        try FileManager.default.moveItem(atPath: dir.at("src/a.conf"), toPath: dir.at("src/b.conf"))
        try FileManager.default.moveItem(atPath: dir.at("src/dir"), toPath: dir.at("src/dir2"))
        #expect(await eventually { TreeSnapshot(dir.at("src")) == TreeSnapshot(dir.at("module")) }, "\(runner.stderr)")
        #expect(Self.inode(dir.at("module/b.conf")) == a, "the moved file was sent again")
        #expect(Self.inode(dir.at("module/dir2/x.conf")) == x, "the moved directory's file was sent again")
        if scheme == "runner" {
            #expect(await eventually { Self.results(runner.stderr) > logged })
            #expect(Self.lastBytes(runner.stderr) == 0, "\(runner.stderr)")
        }

        // Moved and edited in the same batch: a delta against the old file, not the file.
        logged = Self.results(runner.stderr)
        try FileManager.default.moveItem(atPath: dir.at("src/b.conf"), toPath: dir.at("src/c.conf"))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.at("src/c.conf")))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("; one more line\n".utf8))
        try handle.close()
        #expect(await eventually { TreeSnapshot(dir.at("src")) == TreeSnapshot(dir.at("module")) }, "\(runner.stderr)")
        if scheme == "runner" {
            #expect(await eventually { Self.results(runner.stderr) > logged })
            let sent = try #require(Self.lastBytes(runner.stderr))
            #expect(
                sent < big.utf8.count / 20, "\(sent) bytes sent for a \(big.utf8.count)-byte file: \(runner.stderr)")
        }
        // Written just now, then moved: its time cannot prove the bytes, which are compared.
        try dir.write("src/fresh.conf", "[fresh]\n")
        #expect(await eventually { TreeSnapshot(dir.at("src")) == TreeSnapshot(dir.at("module")) })
        let fresh = Self.inode(dir.at("module/fresh.conf"))
        try FileManager.default.moveItem(atPath: dir.at("src/fresh.conf"), toPath: dir.at("src/moved.conf"))
        #expect(await eventually { TreeSnapshot(dir.at("src")) == TreeSnapshot(dir.at("module")) })
        #expect(Self.inode(dir.at("module/moved.conf")) == fresh)
        runner.signal(SIGTERM)
        _ = await runner.waitForExit()
        _ = await daemon?.stop()
    }
}
