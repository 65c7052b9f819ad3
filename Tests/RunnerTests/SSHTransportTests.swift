import Foundation
import Pipeline
import TestSupport
import Testing

/// ssh:// targets through a real sshd on 127.0.0.1, running the built `runner receive`.
@Suite struct SSHTransportTests {
    struct Setup {
        let dir: TemporaryDirectory
        let sshd: TestSSHD
        var source: String { dir.at("src") }
        var module: String { dir.at("module") }

        init(delay: Double = 0.05) throws {
            dir = try TemporaryDirectory()
            try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: dir.at("module"), withIntermediateDirectories: true)
            sshd = try TestSSHD(directory: dir.at("sshd"))
            try dir.write("receiver.lua", "module \"fpm\" { path = \"\(dir.at("module"))\" }\n")
            try dir.write(
                "p.lua",
                """
                local tempfiles = require "tempfiles"
                pipeline "remote" {
                  source = "src", to = "ssh://root@127.0.0.1:\(sshd.port)/fpm", delete = true, delay = \(delay),
                  ignore = { tempfiles.all },
                  \(sshd.pipelineSSH(receiver: dir.at("receiver.lua")))
                }
                """)
        }

        /// Stops sshd (its pid file is in the directory) and removes everything.
        func remove() {
            sshd.stop()
            dir.remove()
        }

        func inSync() -> Bool {
            TreeSnapshot(source) { ($0 as NSString).lastPathComponent.hasSuffix(".swp") } == TreeSnapshot(module)
        }
    }

    @Test func onceSyncsEveryKindOfEntryAndSendsDeltas() async throws {
        let s = try Setup()
        defer { s.remove() }
        try s.dir.write("src/www.conf", "[www]\nenv[APP_MODE] = functional\n", mode: 0o640)
        try s.dir.write("src/sub/deep/x.conf", "x", mode: 0o600)
        try Data(DeltaRoundTripData.bytes(300_000)).write(to: URL(fileURLWithPath: s.dir.at("src/big.bin")))
        symlink("www.conf", s.dir.at("src/link"))
        try s.dir.write("module/stale.conf", "deleted")
        let first = try await RunnerProcess.run(["run", s.dir.at("p.lua"), "--once"], logDirectory: s.dir.path)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(s.inSync(), "\(TreeSnapshot(s.source).differences(from: TreeSnapshot(s.module)))")

        // A small edit to a large file travels as a delta, not as the file.
        let h = try #require(FileHandle(forWritingAtPath: s.dir.at("src/big.bin")))
        h.seek(toFileOffset: 150_000)
        h.write(Data("edited".utf8))
        try h.close()
        let second = try await RunnerProcess.run(["run", s.dir.at("p.lua"), "--once"], logDirectory: s.dir.path)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(s.inSync())
        let sent = second.stderr.split(separator: "\n").first { $0.contains("revision 2: applied") }
        let bytes = sent.flatMap { $0.split(separator: " ").first { $0.hasPrefix("bytes=") } }.flatMap {
            Int($0.dropFirst(6))
        }
        #expect((bytes ?? .max) < 30_000, "\(String(describing: sent))")
    }

    @Test func liveRunPicksUpChangesAndCatchesUpAfterTheReceiverWasUnreachable() async throws {
        let s = try Setup()
        defer { s.remove() }
        try s.dir.write("src/a.conf", "v1\n")
        let runner = try RunnerProcess(["run", s.dir.at("p.lua")], logDirectory: s.dir.path)
        defer { runner.signal(SIGKILL) }
        #expect(await runner.waitForLog("ready"))
        #expect(await eventually { s.inSync() }, "\(runner.stderr)")
        try s.dir.write("src/b.conf", "new\n")
        #expect(try sh("sed -i 's/v1/v2/' a.conf && printf 'swap' > .a.conf.swp", in: s.source).status == 0)
        #expect(await eventually { s.inSync() }, "\(runner.stderr)")

        // The receiver's host goes away: the session breaks, batches fail and are retried.
        s.sshd.stop()
        _ = try sh("pkill -f 'runner receive \(s.dir.at("receiver.lua"))' || true", in: s.dir.path)
        try s.dir.write("src/while-down.conf", "queued\n")
        try FileManager.default.removeItem(atPath: s.dir.at("src/b.conf"))
        #expect(await runner.waitForLog("is down"), "\(runner.stderr)")
        try s.sshd.restart()
        #expect(await eventually(timeout: 30) { s.inSync() }, "\(runner.stderr)")
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit() == 0)
    }
}

/// Deterministic bytes for test files.
enum DeltaRoundTripData {
    static func bytes(_ n: Int) -> [UInt8] {
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        return (0..<n).map { _ in
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            return UInt8(truncatingIfNeeded: x)
        }
    }
}

/// Faults on the ssh transport: a receiver killed mid-commit, a sender killed mid-batch.
@Suite struct SSHFaultTests {
    @Test func receiverKilledDuringTheRenamesIsRolledBackAndTheSenderCatchesUp() async throws {
        let s = try SSHTransportTests.Setup()
        defer { s.remove() }
        for i in 0..<8 { try s.dir.write("src/f\(i).conf", "v1 \(i)\n") }
        let first = try await RunnerProcess.run(["run", s.dir.at("p.lua"), "--once"], logDirectory: s.dir.path)
        #expect(first.status == 0, "\(first.stderr)")
        for i in 0..<8 { try s.dir.write("src/f\(i).conf", "v2 \(i), longer\n") }

        // The receiver (through ssh's SendEnv) kills itself after 3 renames of the commit.
        try s.dir.write(
            "crash.lua",
            try String(contentsOfFile: s.dir.at("p.lua"), encoding: .utf8)
                .replacingOccurrences(
                    of: "-o ConnectTimeout=5", with: "-o ConnectTimeout=5 -o SendEnv=RUNNER_DEBUG_CRASH_AFTER_RENAMES"))
        let crashed = try await RunnerProcess.run(
            ["run", s.dir.at("crash.lua"), "--once"],
            environment: ["RUNNER_DEBUG_CRASH_AFTER_RENAMES": "3"], logDirectory: s.dir.path)
        #expect(crashed.status == 1, "the batch failed: \(crashed.stderr)")
        #expect(
            FileManager.default.fileExists(atPath: s.dir.at(".module.runner-staging")),
            "the killed receiver left its journal")

        // The next session rolls the half-committed batch back first, then applies the new one.
        let again = try await RunnerProcess.run(["run", s.dir.at("p.lua"), "--once"], logDirectory: s.dir.path)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(s.inSync())
        #expect(!FileManager.default.fileExists(atPath: s.dir.at(".module.runner-staging")))
    }

    @Test func senderKilledMidBatchLeavesTheReceiverTreeAsItWas() async throws {
        let s = try SSHTransportTests.Setup()
        defer { s.remove() }
        try s.dir.write("module/keep.conf", "old\n")
        let before = TreeSnapshot(s.module)
        try Data(DeltaRoundTripData.bytes(8 << 20)).write(to: URL(fileURLWithPath: s.dir.at("src/huge.bin")))
        try s.dir.write("src/keep.conf", "new\n")
        // The receiver gets the first 2 MB of the session, then nothing until the gate
        // opens: the batch is caught mid-staging however fast the machine is (head -c
        // would hold the bytes back until it has them all).
        try s.dir.write(
            "gated-runner",
            """
            #!/bin/sh
            { python3 -c '
            import os
            n = 2000000
            while n > 0:
                b = os.read(0, min(n, 65536))
                if not b: break
                os.write(1, b); n -= len(b)'
              while [ ! -e \(s.dir.at("gate")) ]; do sleep 0.02; done; cat; } | exec \(RunnerProcess.binary) "$@"
            """, mode: 0o755)
        try s.dir.write(
            "p.lua",
            try String(contentsOfFile: s.dir.at("p.lua"), encoding: .utf8)
                .replacingOccurrences(
                    of: "runner = \"\(RunnerProcess.binary)\"", with: "runner = \"\(s.dir.at("gated-runner"))\""))
        let runner = try RunnerProcess(["run", s.dir.at("p.lua"), "--once"], logDirectory: s.dir.path)
        #expect(
            await eventually {
                (try? FileManager.default.contentsOfDirectory(atPath: s.dir.at(".module.runner-staging")))?.isEmpty
                    == false
            })
        runner.signal(SIGKILL)
        _ = await runner.waitForExit()
        try s.dir.write("gate", "")
        // The receiver sees its input end mid-batch: it abandons the batch and removes its staging.
        #expect(await eventually { !FileManager.default.fileExists(atPath: s.dir.at(".module.runner-staging")) })
        #expect(TreeSnapshot(s.module) == before)
    }
}
