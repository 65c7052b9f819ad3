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

    /// Whether the peer closed `fd` within `seconds` (what it said before is read past).
    static func closedByPeer(_ fd: Int32, within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1000))) > 0 else { return false }
            if read(fd, &buffer, buffer.count) <= 0 { return true }
        }
        return false
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
        // A client that announces a 60-byte hello and sends it a byte a second, as if it were slow.
        let drip = try #require(Self.connect(from: "127.0.0.3", to: daemon.port))
        defer { close(drip) }
        var length: [UInt8] = [60, 0, 0, 0]
        #expect(write(drip, &length, 4) == 4)
        let dripping = Task.detached {
            var byte: UInt8 = 0x01
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
        // A few lines for it all: the first refusal, then sums every 10 s.
        let said = daemon.process.stderr.split(separator: "\n").filter {
            $0.contains(" warning ") || $0.contains(" error ")
        }
        #expect(said.count <= 3, "\(said.count) lines: \(said.prefix(5))")
        #expect(said.first?.contains("too many unauthenticated connections from its address") == true, "\(said)")
    }

    @Test func theStatusAddressAnswersBesideTwoHundredIdleConnections() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let port = try freeLoopbackPort()
        try FileManager.default.createDirectory(atPath: dir.at("module"), withIntermediateDirectories: true)
        try dir.write(
            "receiver.lua",
            """
            settings { listen = "127.0.0.1:0", status = "127.0.0.1:\(port)" }
            module "fpm" { path = "module" }
            """)
        let daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path)
        defer { Task { _ = await daemon.stop() } }
        #expect(await eventually { (try? httpGet(port: port, "/healthz").status) == 200 })
        var idle: [Int32] = []
        defer { for fd in idle { close(fd) } }
        // From another address, and from the probe's own.
        for i in 0..<200 {
            if let fd = Self.connect(from: i % 2 == 0 ? "127.0.0.2" : "127.0.0.1", to: port) { idle.append(fd) }
        }
        #expect(idle.count == 200)
        for _ in 0..<5 {
            let asked = Date()
            #expect(try httpGet(port: port, "/healthz").status == 200)
            #expect(Date().timeIntervalSince(asked) < 1, "answered after \(Date().timeIntervalSince(asked)) s")
        }
        // Said, and summed: not a line per connection shed.
        #expect(await daemon.process.waitForLog("status address: refused a connection from"))
        let said = daemon.process.stderr.split(separator: "\n").filter { $0.contains("status address:") }
        #expect(said.count <= 3, "\(said.count) lines: \(said.prefix(5))")
    }
}
