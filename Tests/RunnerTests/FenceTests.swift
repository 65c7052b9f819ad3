import Foundation
import Pipeline
import TestSupport
import Testing

/// Fencing at the receivers: a module remembers the highest leader token a sender's hello
/// carried (on disk, beside it), refuses a lower one at its hello, and refuses the commit of
/// a session a newer leader's hello overtook; its log says why.
@Suite struct FenceTests {
    typealias Peer = HostilePeerTests

    /// `runner serve` of the setup's module on a port of 127.0.0.1.
    static func serve(_ s: Peer.Setup) async throws -> ServeProcess {
        try s.dir.write(
            "receiver.lua",
            "settings { listen = \"127.0.0.1:0\" }\nmodule \"fpm\" { path = \"\(s.dir.at("module"))\" }\n")
        return try await ServeProcess(script: s.dir.at("receiver.lua"), logDirectory: s.dir.path)
    }

    /// A session that said hello with `token` and was welcomed.
    static func welcomed(port: Int, token: UInt64) throws -> RawConnection {
        let c = try RawConnection(port: port)
        c.write(WireBytes.hello(token: token))
        #expect(c.readFrame()?.type == 0x02, "welcomed")
        return c
    }

    @Test func aLowerTokenIsRefusedAndTheFenceOutlivesTheProcess() async throws {
        let s = try Peer.Setup()
        defer { s.dir.remove() }
        func push(_ name: String, token: UInt64) async throws -> (Int32, String) {
            try await s.feed(
                WireBytes.hello(token: token) + Peer.batch(Peer.file(name, delta: s.wholeFile)) + WireBytes.frame(0x04))
        }
        let (first, log) = try await push("a.conf", token: 5)
        #expect(first == 0, "\(log)")
        #expect(try String(contentsOfFile: s.dir.at(".module.runner-fence"), encoding: .utf8) == "5\n")
        // Each `runner receive` is a process of its own: the fence is what is on disk.
        for older: UInt64 in [3, 0] {
            let (status, stderr) = try await push("b.conf", token: older)
            #expect(status == 1)
            #expect(
                stderr.contains("fenced: module 'fpm' has seen leader token 5, and this sender's is \(older)"),
                "\(stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: s.dir.at("module/b.conf")))
        let (newer, newerLog) = try await push("c.conf", token: 7)
        #expect(newer == 0 && FileManager.default.fileExists(atPath: s.dir.at("module/c.conf")), "\(newerLog)")
        #expect(try String(contentsOfFile: s.dir.at(".module.runner-fence"), encoding: .utf8) == "7\n")
    }

    @Test func aNewerLeadersHelloFencesAnOpenSessionBeforeItsCommit() async throws {
        let s = try Peer.Setup()
        defer { s.dir.remove() }
        let daemon = try await Self.serve(s)
        defer { Task { _ = await daemon.stop() } }
        let old = try Self.welcomed(port: daemon.port, token: 5)
        let new = try Self.welcomed(port: daemon.port, token: 6)
        // The deposed leader's batch, sent after the new leader said hello.
        old.write(Peer.batch(Peer.file("stale.conf", delta: s.wholeFile)))
        let answer = try #require(old.readFrame())
        #expect(answer.type == 0x03, "an error, not a result")
        #expect(String(decoding: answer.payload, as: UTF8.self).contains("has seen leader token 6"))
        #expect(!FileManager.default.fileExists(atPath: s.dir.at("module/stale.conf")))
        #expect(await daemon.process.waitForLog("fenced: module 'fpm' has seen leader token 6, and this sender's is 5"))
        new.write(Peer.batch(Peer.file("fresh.conf", delta: s.wholeFile)))
        #expect(new.readFrame()?.type == 0x39, "the new leader's batch is applied")
        #expect(FileManager.default.fileExists(atPath: s.dir.at("module/fresh.conf")))
    }

    @Test func aFrozenLeadersOpenBatchGivesWayToTheNewLeaderWithinSeconds() async throws {
        let s = try Peer.Setup()
        defer { s.dir.remove() }
        let daemon = try await Self.serve(s)
        defer { Task { _ = await daemon.stop() } }
        // The old leader begins a batch (the tree's lock is its) and goes silent, as a frozen
        // sender does; its idle timeout is minutes away.
        let old = try Self.welcomed(port: daemon.port, token: 5)
        old.write(WireBytes.frame(0x30, WireBytes.le64(1)) + Peer.file("half.conf", delta: s.wholeFile))
        let new = try Self.welcomed(port: daemon.port, token: 6)
        let started = Date()
        new.write(Peer.batch(Peer.file("fresh.conf", delta: s.wholeFile)))
        #expect(new.readFrame()?.type == 0x39, "the new leader's batch is applied")
        #expect(Date().timeIntervalSince(started) < 5, "it waited \(Date().timeIntervalSince(started)) s")
        #expect(FileManager.default.fileExists(atPath: s.dir.at("module/fresh.conf")))
        #expect(!FileManager.default.fileExists(atPath: s.dir.at("module/half.conf")))
        let answer = try #require(old.readFrame())
        #expect(
            answer.type == 0x03 && String(decoding: answer.payload, as: UTF8.self).contains("has seen leader token 6"))
        #expect(await daemon.process.waitForLog("fenced: module 'fpm' has seen leader token 6, and this sender's is 5"))
    }
}
