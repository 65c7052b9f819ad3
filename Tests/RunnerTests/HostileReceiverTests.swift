import Foundation
import TestSupport
import Testing

/// A receiver that completes the handshake and then lies, in well-formed frames: the sender
/// refuses the lie with an error naming that host, keeps serving the others, and holds no
/// more memory than the batch it asked about.
@Suite struct HostileReceiverTests {
    /// One lie: how the fake receiver answers, and what the sender must say of it.
    struct Lie: CustomTestStringConvertible, Sendable {
        let name: String
        let said: String
        let answer: LyingReceiver.Answer
        var testDescription: String { name }
    }

    static let scan: UInt8 = 0x10, list: UInt8 = 0x13, signatures: UInt8 = 0x20, commit: UInt8 = 0x38

    /// A request for a listing: a scan of a batch's paths, or a LIST of the root (a first
    /// sync lists the module directory by directory; the liar has only the root).
    static func asksListing(_ type: UInt8) -> Bool { type == scan || type == list }

    /// A chain of 15 directories of 250-byte names, in the source (the endless listing's).
    static let deep = (0..<15).map { String(repeating: Character(String($0 % 10)), count: 250) }.joined(separator: "/")

    /// The paths of a LIST request.
    static func requested(_ payload: [UInt8]) -> [String] {
        var bytes = payload[...]
        func varint() -> Int {
            var value = 0, shift = 0
            while let b = bytes.popFirst() {
                value |= Int(b & 0x7F) << shift
                shift += 7
                if b & 0x80 == 0 { break }
            }
            return value
        }
        return (0..<varint()).map { _ in
            let count = varint()
            defer { bytes = bytes.dropFirst(count) }
            return String(decoding: bytes.prefix(count), as: UTF8.self)
        }
    }

    /// The root, then `big.bin` as a file the sender will want a signature of.
    static func listing(_ peer: RawConnection, extra: [UInt8] = []) -> Bool {
        peer.write(
            WireBytes.entry("", directory: true) + WireBytes.entry("big.bin", size: 8192) + extra
                + WireBytes.frame(0x12))
    }

    static let lies: [Lie] = [
        Lie(name: "an endless listing", said: "the listing passed 512 MiB") { type, payload, peer in
            guard type == list else { return true }
            // Down the source's chain of directories of 250-byte names, then files in the
            // deepest for ever: 4 KB paths, so the sender's limit comes after 65,000 entries.
            for path in requested(payload) {
                guard path.utf8.count < deep.utf8.count else {
                    guard peer.write(WireBytes.entry(path, directory: true)) else { return false }
                    var n = 0
                    while peer.write(WireBytes.entry("\(path)/\(n)" + String(repeating: "f", count: 200))) { n += 1 }
                    return false
                }
                let next = deep.utf8.dropFirst(path.isEmpty ? 0 : path.utf8.count + 1).split(
                    separator: UInt8(ascii: "/"))
                let child = (path.isEmpty ? "" : path + "/") + String(decoding: next[0], as: UTF8.self)
                guard
                    peer.write(
                        WireBytes.entry(path, directory: true) + WireBytes.entry(child, directory: true)
                            + WireBytes.frame(0x12))
                else { return false }
            }
            return true
        },
        Lie(name: "a signature never asked for", said: "sent signature 1 where 0 was due") { type, _, peer in
            if asksListing(type) { return listing(peer) }
            if type == signatures { return peer.write(WireBytes.frame(0x21, WireBytes.varint(1) + [0])) }
            return true
        },
        Lie(name: "a signature of 2^22 blocks that then ends", said: "the signature of big.bin: truncated") {
            type, _, peer in
            if asksListing(type) { return listing(peer) }
            guard type == signatures else { return true }
            let header =
                Array("RNSG".utf8) + [2, 8, 0, 0] + WireBytes.le32(1) + WireBytes.le64(1 << 22)
                + WireBytes.le32(1 << 22) + WireBytes.le64(0)
            return peer.write(
                WireBytes.frame(0x21, WireBytes.varint(0) + header) + WireBytes.frame(0x22, WireBytes.varint(0) + [1]))
        },
        Lie(name: "an endless signature", said: "too large for its file") { type, _, peer in
            if asksListing(type) { return listing(peer) }
            guard type == signatures else { return true }
            let piece = WireBytes.frame(0x21, WireBytes.varint(0) + [UInt8](repeating: 7, count: 1 << 20))
            while peer.write(piece) {}
            return false
        },
        Lie(name: "a result for another batch", said: "answered batch 999") { type, _, peer in
            if asksListing(type) { return peer.write(WireBytes.entry("", directory: true) + WireBytes.frame(0x12)) }
            guard type == commit else { return true }
            let result = WireBytes.le64(999) + [0] + WireBytes.varint(1) + WireBytes.varint(0) + WireBytes.string("")
            return peer.write(WireBytes.frame(0x39, result + WireBytes.varint(0)))
        },
        Lie(name: "a listing entry with ..", said: "names '../escape': unsafe path") { type, _, peer in
            guard asksListing(type) else { return true }
            return listing(peer, extra: WireBytes.entry("../escape"))
        },
        Lie(name: "a listing entry with a NUL", said: "contains NUL") { type, _, peer in
            guard asksListing(type) else { return true }
            return listing(peer, extra: WireBytes.entry("a\0b"))
        },
        Lie(name: "a listing entry outside the directory listed", said: "which is not in it") { type, _, peer in
            guard asksListing(type) else { return true }
            return listing(peer, extra: WireBytes.entry("elsewhere/x"))
        },
    ]

    @Test(arguments: lies)
    func aLyingReceiverIsRefusedAndHoldsBackNobody(_ lie: Lie) async throws {
        let s = try FleetTests.Setup(receivers: ["127.0.0.1:0"])
        defer { s.dir.remove() }
        try s.dir.write("src/big.bin", String(repeating: "x", count: 8192))
        try s.dir.write("src/www.conf", "[www]\n")
        try FileManager.default.createDirectory(atPath: s.dir.at("src/" + Self.deep), withIntermediateDirectories: true)
        let liar = try LyingReceiver(answer: lie.answer)
        let daemon = try await s.serve(0)
        let runner = try await s.run(
            ["runner://127.0.0.1:\(liar.port)/fpm", "runner://127.0.0.1:\(daemon.port)/fpm"],
            extra: "retry = { initial = 0.2, max = 1 }")
        #expect(await eventually(timeout: 20) { s.converged(0) }, "\(runner.stderr)")
        #expect(await runner.waitForLog(lie.said, timeout: 60), "\(runner.stderr)")
        let line = runner.stderr.split(separator: "\n").first { $0.contains(lie.said) } ?? ""
        #expect(line.contains("127.0.0.1:\(liar.port)"), "the error names the host: \(line)")
        // Served again after the lie: the others are not held back, and the sender lives.
        try s.dir.write("src/later.conf", "later\n")
        #expect(await eventually(timeout: 20) { s.converged(0) }, "\(runner.stderr)")
        let retried = await eventually(timeout: 30) { liar.sessions >= 2 }
        #expect(retried, "the sender tries the host again")
        let said = runner.stderr.split(separator: "\n").filter { $0.contains(lie.said) }
        #expect(said.count == 1, "the lie is logged once, not per retry: \(said)")
        let peak = try Self.peakMemory(runner.process.processIdentifier)
        // The listing's limit is 512 MiB as counted (about 300 MiB resident here); without
        // it, the endless listing grows by some 100 MiB a second until the test ends.
        let bound = lie.name == "an endless listing" ? 1 << 30 : 256 << 20
        #expect(peak < bound, "the sender's peak memory was \(peak >> 20) MiB")
        runner.signal(SIGKILL)
        _ = await daemon.stop()
    }

    /// VmHWM: the most resident memory the process had.
    static func peakMemory(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Int(line.split(separator: " ")[1]) ?? 0) << 10
    }
}
