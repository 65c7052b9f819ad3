import Foundation
import TestSupport
import Testing

/// Notifications: one POST per group per revision to a real local HTTP server, with the
/// per-host table; `on_group` called as often; a server that is down gets them when it is
/// back, and the hosts never wait for it.
@Suite struct NotifyTests {
    /// A webhook on 127.0.0.1: Python's http.server, appending each POST's body as a line.
    final class Hook: @unchecked Sendable {
        // @unchecked: the process is only touched by the test that owns this object.
        let process = Process()
        let bodies: String

        init(dir: TemporaryDirectory, port: Int) throws {
            bodies = dir.at("posts.jsonl")
            try dir.write(
                "hook.py",
                """
                import http.server, sys
                class H(http.server.BaseHTTPRequestHandler):
                    def do_POST(self):
                        body = self.rfile.read(int(self.headers['Content-Length']))
                        with open(sys.argv[2], 'ab') as f:
                            f.write(body.replace(b'\\n', b' ') + b'\\n')
                        self.send_response(204)
                        self.end_headers()
                    def log_message(self, *a):
                        pass
                http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
                """)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [dir.at("hook.py"), "\(port)", bodies]
            try process.run()
        }

        /// Whether it takes connections yet.
        static func listening(_ port: Int) -> Bool {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
        }

        func stop() async {
            // SIGKILL: a child of the test process inherits its blocked SIGTERM.
            kill(process.processIdentifier, SIGKILL)
            _ = await eventually(timeout: 10) { !self.process.isRunning }
        }

        /// The documents received, decoded.
        var posts: [[String: Any]] {
            ((try? String(contentsOfFile: bodies, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }

        func count(group: String, revision: Int) -> Int {
            posts.filter { $0["group"] as? String == group && $0["revision"] as? Int == revision }.count
        }
    }

    @Test func oneDocumentPerGroupPerRevisionAndNoneLostWhileTheHookIsDown() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let port = try freeLoopbackPort()
        var hook = try Hook(dir: dir, port: port)
        #expect(await eventually(timeout: 10) { Hook.listening(port) })
        try dir.write("src/www.conf", "v = 1\n")
        try dir.write(
            "p.lua",
            """
            settings { state_dir = "state" }
            group "web" { "file://\(dir.at("w1"))", "file://\(dir.at("w2"))" }
            group "other" { "file://\(dir.at("o1"))" }
            pipeline "p" { source = "src", to = { "web", "other" }, delay = 0.05,
                           notify = { webhook = "http://127.0.0.1:\(port)/hook", on = { "applied", "failed" } },
                           on_group = function(group, revision, outcome)
                             local f = io.open("\(dir.at("on_group.log"))", "a")
                             f:write(group, " ", revision, " ", outcome.event, " ", #outcome.hosts, "\\n")
                             f:close()
                           end }
            """)
        let runner = try RunnerProcess(["run", dir.at("p.lua")], logDirectory: dir.path)
        defer { runner.signal(SIGKILL) }
        #expect(await eventually(timeout: 10) { hook.posts.count == 2 }, "\(runner.stderr)")
        try dir.write("src/www.conf", "v = 2\n")
        #expect(await eventually(timeout: 10) { hook.posts.count == 4 }, "\(runner.stderr)")
        let web = try #require(hook.posts.first { $0["group"] as? String == "web" && $0["revision"] as? Int == 2 })
        #expect(web["event"] as? String == "applied" && web["paths"] as? [String] == ["www.conf"])
        let hosts = try #require(web["hosts"] as? [[String: Any]])
        #expect(hosts.map { $0["state"] as? String } == ["applied", "applied"])
        #expect(hosts.map { $0["host"] as? String } == ["file://\(dir.at("w1"))", "file://\(dir.at("w2"))"])

        // The hook goes away: the hosts get the next revision all the same; its documents wait.
        await hook.stop()
        try dir.write("src/www.conf", "v = 3\n")
        #expect(
            await eventually(timeout: 10) {
                (try? String(contentsOfFile: dir.at("o1/www.conf"), encoding: .utf8)) == "v = 3\n"
            }, "\(runner.stderr)")
        #expect(await eventually(timeout: 10) { !Hook.listening(port) })
        hook = try Hook(dir: dir, port: port)
        #expect(await eventually(timeout: 10) { hook.posts.count == 6 }, "\(runner.stderr)")
        for revision in 1...3 {
            #expect(
                hook.count(group: "web", revision: revision) == 1 && hook.count(group: "other", revision: revision) == 1
            )
        }
        let calls = (try? String(contentsOfFile: dir.at("on_group.log"), encoding: .utf8)) ?? ""
        #expect(
            calls.split(separator: "\n").sorted() == [
                "other 1 applied 1", "other 2 applied 1", "other 3 applied 1", "web 1 applied 2", "web 2 applied 2",
                "web 3 applied 2",
            ], "\(calls)")
        await hook.stop()
    }
}
