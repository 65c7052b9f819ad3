import Foundation
import TestSupport
import Testing

/// A receiver's listener under connections that never authenticate: a thousand idle ones
/// and one that drips a byte a second do not hold back an authenticated push, are turned
/// away or timed out, and leave a few log lines, not one per refusal.
@Suite(.serialized) struct FloodTests {
    /// A TCP connection to 127.0.0.1:`port` from `source` (another loopback address).
    static func connect(from source: String, to port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        func address(_ host: String, _ port: Int) -> sockaddr_in {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, host, &a.sin_addr)
            return a
        }
        var local = address(source, 0), remote = address("127.0.0.1", port)
        let ok =
            withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            } == 0
            && withUnsafePointer(to: &remote) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            } == 0
        if !ok { close(fd) }
        return ok ? fd : nil
    }

    /// Whether the peer closed `fd` within `seconds`.
    static func closedByPeer(_ fd: Int32, within seconds: Double) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(seconds * 1000)) > 0 else { return false }
        var byte: UInt8 = 0
        return read(fd, &byte, 1) <= 0
    }

    @Test func aThousandIdleConnectionsAndASlowDripHoldNoPushBack() async throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = min(limit.rlim_max, 8192)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.at("module"), withIntermediateDirectories: true)
        try dir.write(
            "receiver.lua",
            """
            settings { listen = "127.0.0.1:0", handshake_timeout = 3 }
            module "fpm" { path = "module" }
            """)
        let daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path)
        defer { Task { _ = await daemon.stop() } }
        var flood: [Int32] = []
        defer { for fd in flood { close(fd) } }
        for _ in 0..<1_000 { if let fd = Self.connect(from: "127.0.0.2", to: daemon.port) { flood.append(fd) } }
        #expect(flood.count > 900, "\(flood.count) connected")
        // A client that sends the start of a hello a byte a second, as if it were slow.
        let drip = try #require(Self.connect(from: "127.0.0.3", to: daemon.port))
        defer { close(drip) }
        let dripping = Task.detached {
            var byte: UInt8 = 0
            for _ in 0..<20 where !Task.isCancelled {
                guard write(drip, &byte, 1) == 1 else { return }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        defer { dripping.cancel() }

        try dir.write("src/www.conf", "[www]\n")
        try dir.write(
            "p.lua",
            """
            settings { state_dir = "state" }
            pipeline "p" { source = "src", to = { "runner://127.0.0.1:\(daemon.port)/fpm" }, delay = 0.05,
                           retry = { initial = 0.1, max = 0.5 } }
            """)
        let started = Date()
        let runner = try RunnerProcess(["run", dir.at("p.lua")], logDirectory: dir.path)
        defer { runner.signal(SIGTERM) }
        #expect(
            await eventually(timeout: 10) { FileManager.default.fileExists(atPath: dir.at("module/www.conf")) },
            "\(runner.stderr)")
        let took = Date().timeIntervalSince(started)
        #expect(took < 3, "the push took \(took) s beside the flood")
        // The drip is cut at the handshake's deadline, whatever it sends.
        #expect(Self.closedByPeer(drip, within: 5), "the slow client still holds its place")
        let refusals = daemon.process.stderr.split(separator: "\n").filter { $0.contains("refused") }
        #expect(refusals.count <= 3, "\(refusals.count) lines: \(refusals.prefix(5))")
        #expect(refusals.first?.contains("from its address") == true, "\(refusals)")
    }
}
