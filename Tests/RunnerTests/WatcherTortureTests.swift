import Foundation
import Pipeline
import TestSupport
import Testing

/// The torture suite: real tools change the source while `runner run` watches it;
/// each case ends with the target equal to the source minus ignored paths (bytes and
/// modes), polled with a deadline. A watcher on the target records every name that
/// ever appears there: temp files must never be among them.
@Suite struct WatcherTortureTests {
    final class Case {
        let dir: TemporaryDirectory
        let runner: RunnerProcess
        let targetWatcher: InotifyWatcher
        var seenInTarget = Set<String>()
        var source: String { dir.at("src") }
        var target: String { dir.at("dst") }

        init(delay: Double = 0.05, extra: String = "", prepare: (TemporaryDirectory) throws -> Void = { _ in })
            async throws
        {
            dir = try TemporaryDirectory()
            try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: dir.at("dst"), withIntermediateDirectories: true)
            try prepare(dir)
            try dir.write(
                "pipeline.lua",
                """
                local tempfiles = require "tempfiles"
                pipeline "torture" {
                  source = "src",
                  to = "file://\(dir.at("dst"))",
                  ignore = { tempfiles.all, "/.git/" },
                  delay = \(delay),
                  delete = true,
                  \(extra)
                }
                """)
            targetWatcher = try InotifyWatcher(root: dir.at("dst"))
            runner = try RunnerProcess(["run", dir.at("pipeline.lua"), "--log-level", "debug"], logDirectory: dir.path)
            guard await runner.waitForLog("ready") else { throw CancellationError() }
        }

        static func isTemp(_ path: String) -> Bool {
            let name = (path as NSString).lastPathComponent
            return name.range(of: #"^\..*\.[A-Za-z0-9]{6}$"#, options: .regularExpression) != nil
                || name.range(of: #"^sed[A-Za-z0-9]{6}$"#, options: .regularExpression) != nil
                || name.hasSuffix(".swp") || name.hasSuffix(".swx") || name == "4913" || name.hasSuffix("~")
                || path.hasPrefix(".git")
        }

        var expected: TreeSnapshot { TreeSnapshot(source) { Case.isTemp($0) } }

        /// Polls until the target equals the source; records names seen in the target.
        func converges(timeout: Double = 20) async throws -> Bool {
            let ok = try await eventually(timeout: timeout) {
                for e in try targetWatcher.read() { seenInTarget.insert(e.path) }
                return expected == TreeSnapshot(target)
            }
            for e in try targetWatcher.read() { seenInTarget.insert(e.path) }
            return ok
        }

        var tempsSeenInTarget: [String] { seenInTarget.filter { Case.isTemp($0) }.sorted() }

        func run(_ script: String) throws {
            let r = try sh(script, in: source)
            if r.status != 0 { throw ShellFailure(script: script, output: r.output) }
        }

        func finish() async -> Int32? {
            runner.signal(SIGTERM)
            let status = await runner.waitForExit()
            dir.remove()
            return status
        }
    }

    struct ShellFailure: Error { let script: String; let output: String }

    /// Runs one case: `script` in the source, then target == source, no temps seen, clean exit.
    func torture(_ script: String, timeout: Double = 20, prepare: (TemporaryDirectory) throws -> Void = { _ in })
        async throws
    {
        let c = try await Case(prepare: prepare)
        #expect(try await c.converges(), "initial sync")
        try c.run(script)
        let ok = try await c.converges(timeout: timeout)
        #expect(ok, "\(c.expected.differences(from: TreeSnapshot(c.target)))\n\(c.runner.stderr.suffix(3000))")
        #expect(c.tempsSeenInTarget.isEmpty, "temp files reached the target: \(c.tempsSeenInTarget)")
        #expect(await c.finish() == 0)
    }

    static func pools(_ dir: TemporaryDirectory) throws {
        try dir.write("src/www.conf", "[www]\nenv[APP_MODE] = functional\n")
        try dir.write("src/api.conf", "[api]\nenv[APP_MODE] = functional\n", mode: 0o640)
        try dir.write("src/sub/extra.conf", "[extra]\n")
    }

    @Test func sedInPlace() async throws {
        try await torture("sed -i 's/functional/regression/' www.conf api.conf sub/extra.conf", prepare: Self.pools)
    }

    @Test func rsyncOverExistingFilesWithItsTempNames() async throws {
        try await torture(
            """
            mkdir -p ../other/sub
            printf '[www]\\nenv[APP_MODE] = from-rsync\\n' > ../other/www.conf
            printf '[api]\\nenv[APP_MODE] = from-rsync, longer\\n' > ../other/api.conf
            printf 'new\\n' > ../other/sub/new.conf
            rsync -a ../other/ ./
            """, prepare: Self.pools)
    }

    @Test func mvTempOverFile() async throws {
        try await torture(
            "printf 'replaced\\n' > .www.conf.tmp123 && mv .www.conf.tmp123 www.conf", prepare: Self.pools)
    }

    @Test func cpOverFile() async throws {
        try await torture(
            "printf 'copied over\\n' > ../new && cp ../new www.conf && cp ../new sub/extra.conf", prepare: Self.pools)
    }

    @Test func vimStyleSave() async throws {
        // vim with backupcopy=no: a swap file while editing, the 4913 probe, the
        // original renamed to a backup, the new file written, the backup removed.
        try await torture(
            """
            printf 'swap' > .www.conf.swp
            touch 4913 && rm 4913
            mv www.conf www.conf~
            printf '[www]\\nenv[APP_MODE] = vim\\n' > www.conf
            rm www.conf~
            rm .www.conf.swp
            """, prepare: Self.pools)
    }

    @Test func realVimSave() async throws {
        let vim = try #require(
            ["/usr/bin/vim", "/usr/bin/vim.tiny"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "scripts/install-deps.sh installs vim-tiny")
        try await torture(
            "\(vim) -n -u NONE -i NONE -es -c '%s/functional/vim-edited/' -c 'wq' www.conf", prepare: Self.pools)
    }

    @Test func gitCheckoutOfAnotherBranch() async throws {
        try await torture(
            """
            git checkout -q other
            """,
            prepare: { dir in
                try Self.pools(dir)
                let r = try sh(
                    """
                    git init -q -b main . && git -c user.email=t@t -c user.name=t add -A
                    git -c user.email=t@t -c user.name=t commit -qm one
                    git checkout -q -b other
                    sed -i 's/functional/branch/' www.conf && rm api.conf && mkdir -p newdir && echo n > newdir/n.conf
                    git -c user.email=t@t -c user.name=t add -A && git -c user.email=t@t -c user.name=t commit -qm two
                    git checkout -q main
                    """, in: dir.at("src"))
                #expect(r.status == 0, "\(r.output)")
            })
    }

    @Test func tarExtractOfATree() async throws {
        try await torture(
            """
            mkdir -p ../t/a/b ../t/c && echo 1 > ../t/a/b/one.conf && echo 2 > ../t/c/two.conf && chmod 600 ../t/c/two.conf
            tar -C ../t -cf ../tree.tar . && tar -xf ../tree.tar
            """)
    }

    @Test func deepMkdirAndImmediateWrites() async throws {
        try await torture(
            "mkdir -p a/b/c/d/e && echo x > a/b/c/d/e/f.conf && echo y > a/b/g.conf && mkdir -p a/b/c/d/e/f2 && echo z > a/b/c/d/e/f2/h"
        )
    }

    @Test func directoryRenamedInsideTheTreeThenEdited() async throws {
        try await torture(
            "mv sub renamed && echo edited >> renamed/extra.conf && echo new > renamed/new.conf", prepare: Self.pools)
    }

    @Test func directoryMovedOutAndBackIn() async throws {
        try await torture(
            """
            mv sub ../outside
            echo 'edited while outside' >> ../outside/extra.conf
            mv ../outside sub
            echo after >> sub/extra.conf
            """, prepare: Self.pools)
    }

    @Test func deleteAndRecreateTheSameName() async throws {
        try await torture(
            "rm www.conf && echo recreated > www.conf && rm -r sub && mkdir sub && echo again > sub/extra.conf",
            prepare: Self.pools)
    }

    @Test func fileReplacedByRename500TimesThenEditedInPlace() async throws {
        // The seed failure of inotifywait setups: after a replacement the file's watch
        // is gone, so the last in-place edit is never seen. Ours must arrive.
        try await torture(
            """
            i=0
            while [ $i -lt 500 ]; do
              t=$(mktemp .www.conf.XXXXXX); printf 'v%d\\n' $i > "$t"; mv "$t" www.conf; i=$((i+1))
            done
            printf 'last in-place edit\\n' >> www.conf
            """, prepare: Self.pools)
    }
}
