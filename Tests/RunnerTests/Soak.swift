import Foundation
import TestSupport
import Testing

/// The processes of a chaos soak: a sender to two `runner serve` daemons on fixed loopback
/// ports and a `file://` target, each killed and restarted on demand.
final class Soak: @unchecked Sendable {
    // @unchecked: driven by one test task at a time.
    let dir: TemporaryDirectory
    let ports: [Int]
    private(set) var sender: SpawnedRunner
    private var daemons: [SpawnedRunner]

    /// The trees that must end equal to the source.
    var targets: [String] { [dir.at("module0"), dir.at("module1"), dir.at("local")] }

    init(_ dir: TemporaryDirectory) throws {
        self.dir = dir
        ports = [try freeLoopbackPort(), try freeLoopbackPort()]
        for path in ["src", "module0", "module1", "local", "state"] {
            try FileManager.default.createDirectory(atPath: dir.at(path), withIntermediateDirectories: true)
        }
        for (i, port) in ports.enumerated() {
            try dir.write(
                "receiver\(i).lua",
                "settings { listen = \"127.0.0.1:\(port)\" }\nmodule \"fpm\" { path = \"module\(i)\" }\n")
        }
        let ignore = SourceChurn.tempPatterns.map { "\"\($0)\"" }.joined(separator: ", ")
        try dir.write(
            "p.lua",
            """
            settings { state_dir = "\(dir.at("state"))" }
            pipeline "soak" {
              source = "src",
              to = { "runner://127.0.0.1:\(ports[0])/fpm", "runner://127.0.0.1:\(ports[1])/fpm", "file://\(dir.at("local"))" },
              ignore = { \(ignore) }, delete = true, delay = 0.05, timeout = 5,
              retry = { initial = 0.1, max = 0.5 },
            }
            """)
        sender = try SpawnedRunner(["run", dir.at("p.lua")], logDirectory: dir.path)
        daemons = []
    }

    /// Starts the daemons, then waits for the sender's first READY.
    func start() async throws {
        for i in ports.indices { daemons.append(try await Self.serve(dir, i)) }
        #expect(await sender.waitForLog("ready"), "\(sender.stderr)")
    }

    private static func serve(_ dir: TemporaryDirectory, _ i: Int) async throws -> SpawnedRunner {
        let daemon = try SpawnedRunner(["serve", dir.at("receiver\(i).lua")], logDirectory: dir.path, ownGroup: true)
        #expect(await daemon.waitForLog("listening on"), "\(daemon.stderr)")
        return daemon
    }

    func killSender() async throws {
        sender.signal(SIGKILL)
        _ = await sender.waitForExit()
        sender = try SpawnedRunner(["run", dir.at("p.lua")], logDirectory: dir.path)
    }

    /// SIGKILLs daemon `i` with its sessions, as systemd stops what is left of a unit whose
    /// main process died before it starts it again; then starts it again.
    func killDaemon(_ i: Int) async throws {
        daemons[i].signalGroup(SIGKILL)
        _ = await daemons[i].waitForExit()
        daemons[i] = try await Self.serve(dir, i)
    }

    /// SIGKILLs the sessions daemon `i` forked (a session dies mid-batch; the daemon lives).
    func killSessions(_ i: Int) {
        let pid = daemons[i].pid
        let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        for child in children.split(separator: " ").compactMap({ Int32($0) }) { kill(child, SIGKILL) }
    }

    /// Whether every target holds exactly the source less its temp files.
    func converged() -> Bool {
        let source = TreeSnapshot(dir.at("src"), excluding: SourceChurn.isTemp)
        return targets.allSatisfy { TreeSnapshot($0) == source }
    }

    /// What differs, for a failure's message.
    func differences() -> String {
        let source = TreeSnapshot(dir.at("src"), excluding: SourceChurn.isTemp)
        return targets.map { "\($0): \(source.differences(from: TreeSnapshot($0)).prefix(10))" }
            .joined(separator: "\n")
    }

    /// Files left under the targets' staging directories.
    func stagingLeft() -> [String] {
        targets.flatMap { target -> [String] in
            let staging =
                (target as NSString).deletingLastPathComponent + "/." + (target as NSString).lastPathComponent
                + ".runner-staging"
            let paths = FileManager.default.enumerator(atPath: staging)?.compactMap { $0 as? String } ?? []
            return paths.filter { path in
                var st = stat()
                return lstat(staging + "/" + path, &st) == 0 && st.st_mode & S_IFMT != S_IFDIR
            }.map { "\(staging)/\($0)" }
        }
    }

    func stop() async {
        sender.signal(SIGTERM)
        _ = await sender.waitForExit()
        for daemon in daemons {
            daemon.signal(SIGTERM)
            _ = await daemon.waitForExit()
        }
    }
}
