import Foundation

/// A real etcd cluster from Debian's etcd-server: `members` processes on free 127.0.0.1
/// ports, their data in `directory`. Members can be stopped, frozen and started again, as
/// the failure tests need.
public final class TestEtcd: @unchecked Sendable {
    // @unchecked: the processes are only touched by the test that owns the cluster.
    public let names: [String]
    public let clientPorts: [Int]
    private let peerPorts: [Int]
    /// Where the members keep their data and logs.
    public let directory: String
    private var processes: [Process?]

    /// The client URLs, as `coordination = { etcd = { ... } }` names them.
    public var endpoints: [String] { clientPorts.map { "http://127.0.0.1:\($0)" } }

    /// Starts the cluster and waits until it has a leader (a key can be written).
    public init(directory: String, members: Int = 1) async throws {
        self.directory = directory
        names = (1...members).map { "e\($0)" }
        clientPorts = try (0..<members).map { _ in try freeLoopbackPort() }
        peerPorts = try (0..<members).map { _ in try freeLoopbackPort() }
        processes = Array(repeating: nil, count: members)
        for i in 0..<members { try start(i) }
        let endpoint = endpoints[0]
        guard
            await eventually(
                timeout: 30,
                {
                    (try? sh("etcdctl --endpoints=\(endpoint) --command-timeout=1s put ready 1", in: directory))?.status
                        == 0
                })
        else {
            stop()
            throw POSIXError(.ETIMEDOUT)
        }
    }

    /// Starts member `i` (again), with its data as it was left.
    public func start(_ i: Int) throws {
        let cluster = names.indices.map { "\(names[$0])=http://127.0.0.1:\(peerPorts[$0])" }.joined(separator: ",")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/etcd")
        p.arguments = [
            "--name", names[i], "--data-dir", "\(directory)/\(names[i]).etcd",
            "--listen-client-urls", "http://127.0.0.1:\(clientPorts[i])",
            "--advertise-client-urls", "http://127.0.0.1:\(clientPorts[i])",
            "--listen-peer-urls", "http://127.0.0.1:\(peerPorts[i])",
            "--initial-advertise-peer-urls", "http://127.0.0.1:\(peerPorts[i])",
            "--initial-cluster", cluster, "--initial-cluster-state", "new",
            "--heartbeat-interval", "100", "--election-timeout", "1000",
        ]
        // Its log beside its data, kept across restarts.
        let log = "\(directory)/\(names[i]).log"
        if !FileManager.default.fileExists(atPath: log) { FileManager.default.createFile(atPath: log, contents: nil) }
        let handle = FileHandle(forWritingAtPath: log)
        _ = try? handle?.seekToEnd()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = handle ?? FileHandle.nullDevice
        try p.run()
        processes[i] = p
    }

    /// Sends member `i` a signal (SIGSTOP freezes it, SIGKILL kills it); returns once it took
    /// effect (a signal is delivered after kill(2) returns: a frozen member would otherwise
    /// still answer a request sent right after).
    public func signal(_ i: Int, _ signal: Int32) {
        guard let p = processes[i], p.isRunning else { return }
        kill(p.processIdentifier, signal)
        if signal == SIGSTOP || signal == SIGCONT {
            let stat = "/proc/\(p.processIdentifier)/stat"
            for _ in 0..<1000 {
                // The state is the field after the command's closing parenthesis.
                let text = (try? String(contentsOfFile: stat, encoding: .utf8)) ?? ""
                let state = text.split(separator: ")").last?.split(separator: " ").first ?? ""
                if (state == "T") == (signal == SIGSTOP) { break }
                usleep(1000)
            }
        }
        if signal == SIGKILL || signal == SIGTERM {
            p.waitUntilExit()
            processes[i] = nil
        }
    }

    /// Stops every member.
    public func stop() {
        for i in processes.indices {
            if let p = processes[i], p.isRunning {
                kill(p.processIdentifier, SIGCONT)
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
            }
            processes[i] = nil
        }
    }

    deinit { stop() }
}
