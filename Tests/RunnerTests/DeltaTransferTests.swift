import Foundation
import Pipeline
import TestSupport
import Testing

/// Deltas through `runner serve` that used to stop a sync for good: literal runs over the
/// limit, and a block that shares its sums with the receiver's (sent again whole).
@Suite struct DeltaTransferTests {
    struct Setup {
        let dir: TemporaryDirectory
        var source: String { dir.at("src") }
        var module: String { dir.at("module") }

        init() throws {
            dir = try TemporaryDirectory()
            try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: dir.at("module"), withIntermediateDirectories: true)
            try dir.write(
                "receiver.lua", "settings { listen = \"127.0.0.1:0\" }\nmodule \"fpm\" { path = \"module\" }\n")
        }

        func write(_ relative: String, _ bytes: [UInt8], in tree: String) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: tree + "/" + relative))
        }

        /// `runner run --once` to the daemon.
        func once(port: Int) async throws -> (status: Int32, stdout: String, stderr: String) {
            try dir.write(
                "p.lua", "pipeline \"d\" { source = \"src\", to = \"runner://127.0.0.1:\(port)/fpm\", delete = true }\n"
            )
            return try await RunnerProcess.run(["run", dir.at("p.lua"), "--once"], logDirectory: dir.path)
        }
    }

    @Test func filesJustOverTheLiteralLimitArrive() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        // A new file of 1 MiB + 1 beside a small one, and 1 MiB + 100 appended to a file
        // whose literal tail (with its short last block) then runs over the limit.
        let grown = deterministicBytes(100_000, seed: 3)
        try s.write("new.bin", deterministicBytes(1 << 20 + 1, seed: 1), in: s.source)
        try s.write("www.conf", Array("[www]\n".utf8), in: s.source)
        try s.write("grown.bin", grown + deterministicBytes(1 << 20 + 100, seed: 4), in: s.source)
        try s.write("grown.bin", grown, in: s.module)
        let daemon = try await ServeProcess(script: s.dir.at("receiver.lua"), logDirectory: s.dir.path)
        let r = try await s.once(port: daemon.port)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(TreeSnapshot(s.source) == TreeSnapshot(s.module))
        _ = await daemon.stop()
    }

    @Test func aLargeFileEditedInPlaceSendsItsChangedBlocksAndOneWhoseBytesMovedStillArrives() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        let old = deterministicBytes(4 << 20, seed: 7)
        var edited = old
        for offset in [10, 1 << 20, 3 << 20 + 5] { edited[offset] &+= 1 }
        // Same size, every byte one place later: no block is where it was.
        let shifted = [UInt8(9)] + old.dropLast()
        try s.write("edited.bin", edited, in: s.source)
        try s.write("edited.bin", old, in: s.module)
        try s.write("shifted.bin", shifted, in: s.source)
        try s.write("shifted.bin", old, in: s.module)
        // Same sizes: written within one clock tick, the copies could share their mtime too, and
        // once the planner looks two seconds later the quick check would pass them as equal.
        var older = [timespec(tv_sec: 1_600_000_000, tv_nsec: 0), timespec(tv_sec: 1_600_000_000, tv_nsec: 0)]
        for name in ["edited.bin", "shifted.bin"] {
            #expect(utimensat(AT_FDCWD, s.module + "/" + name, &older, 0) == 0)
        }
        let daemon = try await ServeProcess(script: s.dir.at("receiver.lua"), logDirectory: s.dir.path)
        let r = try await s.once(port: daemon.port)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(TreeSnapshot(s.source) == TreeSnapshot(s.module))
        // Three 32 KiB blocks for the edits, and a rolling delta (a few blocks) for the shift.
        let sent = try #require(MoveTests.lastBytes(r.stderr), "\(r.stderr)")
        #expect(sent < 3 * (32 << 10) + 64 << 10, "\(sent) bytes sent: \(r.stderr)")
        _ = await daemon.stop()
    }

    @Test func aBlockForgedToShareTheReceiversSumsStillArrives() async throws {
        let s = try Setup()
        defer { s.dir.remove() }
        // The receiver's signature seed is known (a debug build's test hook), so the sender's
        // file can carry a block forged to pass for the receiver's block 100.
        let size = 200_000
        let length = Signature.blockLength(forFileSize: Int64(size))
        let (original, forged) = CollidingBlocks.make(seed: 0, filler: deterministicBytes(length, seed: 5))
        let head = deterministicBytes(100 * length, seed: 6)
        let tail = deterministicBytes(size - head.count - length, seed: 7)
        try s.write("pool.conf", head + original + tail, in: s.module)
        try s.write("pool.conf", head + forged + tail, in: s.source)
        var old = [timespec(tv_sec: 1_600_000_000, tv_nsec: 0), timespec(tv_sec: 1_600_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, s.module + "/pool.conf", &old, 0) == 0)

        let daemon = try await ServeProcess(
            script: s.dir.at("receiver.lua"), environment: ["RUNNER_DEBUG_SIGNATURE_SEED": "0"],
            logDirectory: s.dir.path)
        let r = try await s.once(port: daemon.port)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(TreeSnapshot(s.source) == TreeSnapshot(s.module))
        #expect(r.stderr.contains("sent again whole: pool.conf"), "\(r.stderr)")
        #expect(
            daemon.process.stderr.contains("pool.conf: the rebuilt file fails the delta's whole-file check"),
            "\(daemon.process.stderr)")
        #expect(daemon.process.stderr.contains("asking for the whole file"))
        _ = await daemon.stop()
    }
}
