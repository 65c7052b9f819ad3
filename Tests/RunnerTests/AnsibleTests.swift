import Foundation
import TestSupport
import Testing

/// A slow writer gets few revisions: a real `ansible-playbook` (ansible-core from PyPI,
/// `connection: local`) templates 20 pool files into the source, one every ~0.5 s, as the
/// issue's user did; then a lone edit still goes out after `delay`.
@Suite struct AnsibleTests {
    @Test func aPlaybookRunMakesAtMostTwoRevisionsAndALoneEditKeepsItsLatency() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
        try dir.write("src/www.conf", "[www]\n")
        try dir.write("pool.conf.j2", "[pool{{ item }}]\nlisten = 127.0.0.1:90{{ item }}\n")
        try dir.write(
            "playbook.yml",
            """
            - hosts: localhost
              connection: local
              gather_facts: false
              tasks:
                - ansible.builtin.template:
                    src: pool.conf.j2
                    dest: "\(dir.at("src"))/pool{{ item }}.conf"
                  loop: "{{ range(20) | list }}"
            """)
        // delay = 0.2 as the user had; max_delay above the run's length (its default, 10 s, would cut a
        // slower run in two).
        try dir.write(
            "p.lua",
            """
            local tempfiles = require "tempfiles"
            pipeline "p" { source = "src", to = "file://\(dir.at("dst"))", ignore = { tempfiles.all },
                           delay = 0.2, max_delay = 30 }
            """)
        let runner = try RunnerProcess(["run", dir.at("p.lua"), "--log-level", "debug"], logDirectory: dir.path)
        #expect(await runner.waitForLog("ready"))
        func revisions() -> Int { runner.stderr.split(separator: "\n").count { $0.contains(" cut: ") } }
        #expect(revisions() == 0)

        let python = try sh("python3 -c 'import sys; print(sys.executable)'", in: dir.path).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let run = try sh(
            "ansible-playbook -i localhost, -e ansible_python_interpreter=\(python) playbook.yml", in: dir.path)
        #expect(run.status == 0, "\(run.output)")
        #expect(
            await eventually(timeout: 30) {
                (0..<20).allSatisfy { FileManager.default.fileExists(atPath: dir.at("dst/pool\($0).conf")) }
            },
            "\(runner.stderr)")
        #expect(revisions() <= 2, "\(runner.stderr)")

        // A lone edit: one that comes later after the last cut than a burst's writer would (1.5 s).
        try await Task.sleep(for: .seconds(2))
        let started = Date()
        try dir.write("src/www.conf", "[www]\nedited = 1\n")
        var arrived: Double?
        while Date().timeIntervalSince(started) < 5 {
            if (try? String(contentsOfFile: dir.at("dst/www.conf"), encoding: .utf8)) == "[www]\nedited = 1\n" {
                arrived = Date().timeIntervalSince(started)
                break
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        #expect(arrived.map { $0 <= 0.25 } == true, "a lone edit took \(String(describing: arrived)) s")
        print(
            "ansible: \(revisions() - 1) revision(s) for 20 templates; a lone edit after it arrived in \(Int((arrived ?? 0) * 1000)) ms"
        )
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit() == 0)
    }
}
