import Foundation
import TestSupport
import Testing

/// A receiver in a network namespace of its own, reached over a veth pair the test makes:
/// the link is cut while batches are cut, then healed. Nothing is lost, nothing is applied
/// twice. Where namespaces are not permitted (not root, no iproute2), the test is skipped.
@Suite(.serialized) struct PartitionTests {
    /// A namespace and a veth pair: the host end `10.<213 + slot>.<n>.1`, the namespace end
    /// `.2` (`slot`: suites that run at once make links of their own).
    struct Link {
        let namespace: String
        let hostEnd: String
        let peer: String

        static var permitted: Bool {
            let probe = "rn-probe-\(getpid())"
            defer { _ = try? sh("ip netns del \(probe) 2>/dev/null || true", in: "/") }
            return (try? sh("ip netns add \(probe)", in: "/").status) == 0
        }

        init(slot: Int = 0) throws {
            let n = Int(getpid()) % 250 + 1
            let tag = "\(getpid())\(slot)"
            namespace = "rn-test-\(tag)"
            hostEnd = "rv\(tag)a"
            peer = "10.\(213 + slot).\(n).2"
            let r = try sh(
                """
                ip netns add \(namespace)
                ip link add \(hostEnd) type veth peer name rv\(tag)b
                ip link set rv\(tag)b netns \(namespace)
                ip addr add 10.\(213 + slot).\(n).1/30 dev \(hostEnd)
                ip link set \(hostEnd) up
                ip netns exec \(namespace) ip addr add \(peer)/30 dev rv\(tag)b
                ip netns exec \(namespace) ip link set rv\(tag)b up
                ip netns exec \(namespace) ip link set lo up
                """, in: "/")
            guard r.status == 0 else { throw POSIXError(.EPERM) }
        }

        func cut() throws { try sh("ip link set \(hostEnd) down", in: "/") }
        func heal() throws { try sh("ip link set \(hostEnd) up", in: "/") }

        func remove() {
            _ = try? sh(
                "ip link del \(hostEnd) 2>/dev/null || true; ip netns del \(namespace) 2>/dev/null || true", in: "/")
        }
    }

    @Test(.enabled(if: Link.permitted, "network namespaces are not permitted here (ip netns add failed)"))
    func aPartitionedReceiverLosesNothingAndAppliesNothingTwice() async throws {
        let link = try Link()
        defer { link.remove() }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.at("module"), withIntermediateDirectories: true)
        try dir.write(
            "receiver.lua", "settings { listen = \"\(link.peer):0\" }\nmodule \"fpm\" { path = \"module\" }\n")
        try dir.write("src/www.conf", "[www]\n")
        // Old enough for the quick check to trust it: the resync after the heal writes only what changed.
        var old = [timespec(tv_sec: 1_600_000_000, tv_nsec: 0), timespec(tv_sec: 1_600_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, dir.at("src/www.conf"), &old, 0) == 0)
        let daemon = try await ServeProcess(
            script: dir.at("receiver.lua"), logDirectory: dir.path,
            launcher: ["/usr/sbin/ip", "netns", "exec", link.namespace], host: link.peer)
        try dir.write(
            "p.lua",
            """
            pipeline "p" { source = "src", to = "runner://\(link.peer):\(daemon.port)/fpm", delete = true, delay = 0.05,
                           timeout = 1, retry = { initial = 0.2, max = 0.5 } }
            """)
        let runner = try RunnerProcess(["run", dir.at("p.lua")], logDirectory: dir.path)
        #expect(await runner.waitForLog("ready"))
        let converged = { TreeSnapshot(dir.at("src")) == TreeSnapshot(dir.at("module")) }
        #expect(await eventually(timeout: 10) { converged() }, "\(runner.stderr)")

        try link.cut()
        for i in 0..<3 {
            try dir.write("src/change\(i).conf", "\(i)\n")
            try await Task.sleep(nanoseconds: 100_000_000)  // three batches, not one: the writes are apart
        }
        #expect(await runner.waitForLog("is down"), "\(runner.stderr)")
        #expect(!converged())
        try link.heal()
        #expect(await eventually(timeout: 20) { converged() }, "\(runner.stderr)")
        #expect(await runner.waitForLog("is back"))
        // Every file was written once at the receiver: the three changes, after the initial www.conf.
        let written = daemon.process.stderr.split(separator: "\n").filter { $0.contains("applied") }
            .compactMap { line in
                line.split(separator: " ").first { $0.hasPrefix("written=") }.flatMap { Int($0.dropFirst(8)) }
            }
        #expect(written.reduce(0, +) == 4, "\(daemon.process.stderr)")
        runner.signal(SIGKILL)
        _ = await daemon.stop()
    }
}
