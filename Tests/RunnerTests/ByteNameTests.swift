import Foundation
import TestSupport
import Testing

/// Names are bytes: a file whose name is not valid UTF-8 (a Latin-1 `café.conf`) is synced
/// like any other through every kind of target, kept byte for byte, moved and deleted;
/// an ignore rule written with such a byte matches it.
@Suite struct ByteNameTests {
    static let cafe: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".conf".utf8)
    static let cafeMoved: [UInt8] = Array("caf".utf8) + [0xE8] + Array(".conf".utf8)
    static let directory: [UInt8] = Array("pool".utf8) + [0xFF]
    static let skipped: [UInt8] = Array("skip".utf8) + [0xFE] + Array(".conf".utf8)
    static let fresh: [UInt8] = [0xC3, 0x28] + Array(".conf".utf8)  // an invalid two-byte sequence

    /// `base/name` as the bytes a system call takes.
    static func path(_ base: String, _ name: [UInt8]...) -> [CChar] {
        var bytes = Array(base.utf8)
        for part in name { bytes += [UInt8(ascii: "/")] + part }
        return bytes.map { CChar(bitPattern: $0) } + [0]
    }

    static func create(_ path: [CChar], _ content: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
        defer { close(fd) }
        _ = content.withCString { write(fd, $0, strlen($0)) }
    }

    /// Every path below `root` as bytes (`a/b`), with a file's content; a directory's is "/".
    static func tree(_ root: String) -> [[UInt8]: String] {
        var found: [[UInt8]: String] = [:]
        func walk(_ relative: [UInt8]) {
            let full = Array(root.utf8) + (relative.isEmpty ? [] : [UInt8(ascii: "/")] + relative)
            guard let stream = opendir(full.map { CChar(bitPattern: $0) } + [0]) else { return }
            defer { closedir(stream) }
            while let entry = readdir(stream) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
                guard name != Array(".".utf8), name != Array("..".utf8) else { continue }
                let child = relative.isEmpty ? name : relative + [UInt8(ascii: "/")] + name
                if Int32(entry.pointee.d_type) == DT_DIR {
                    found[child] = "/"
                    walk(child)
                } else {
                    let file = (full + [UInt8(ascii: "/")] + name).map { CChar(bitPattern: $0) } + [0]
                    let fd = open(file, O_RDONLY)
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    let n = fd >= 0 ? read(fd, &buffer, buffer.count) : -1
                    if fd >= 0 { close(fd) }
                    found[child] = n >= 0 ? String(decoding: buffer[..<n], as: UTF8.self) : "?"
                }
            }
        }
        walk([])
        return found
    }

    @Test(arguments: ["file", "runner", "rsync"])
    func aNameThatIsNotUTF8IsSyncedMovedAndIgnoredByItsBytes(_ scheme: String) async throws {
        let dir = try TemporaryDirectory()
        defer { _ = try? sh("rm -rf \"\(dir.path)\"", in: "/") }
        for d in ["src", "module"] {
            try FileManager.default.createDirectory(atPath: dir.at(d), withIntermediateDirectories: true)
        }
        try Self.create(Self.path(dir.at("src"), Self.cafe), "[cafe]\n")
        mkdir(Self.path(dir.at("src"), Self.directory), 0o755)
        try Self.create(Self.path(dir.at("src"), Self.directory, Array("www.conf".utf8)), "[www]\n")
        try Self.create(Self.path(dir.at("src"), Self.skipped), "ignored by a byte\n")

        // Kept alive for the test: the daemon serving the module.
        var daemons: [AnyObject] = []
        let made = try await moduleTarget(scheme, in: dir)
        var target = made.uri
        if let daemon = made.daemon { daemons.append(daemon) }
        var auth = ""
        if scheme == "rsync" {
            let rsyncd = try await TestRsyncDaemon(directory: dir.path, module: dir.at("module"))
            daemons.append(rsyncd)
            try dir.write("sync.secret", "s3cret\n", mode: 0o600)
            target = "rsync://127.0.0.1:\(rsyncd.port)/php_env"
            auth = ", auth = { user = \"sync\", secret_file = \"sync.secret\" }"
        }
        // Lua strings are bytes: "\xfe" in the pattern is the byte of the name it skips.
        let script = try dir.write(
            "p.lua",
            """
            pipeline "p" { source = "src", to = { "\(target)" }, delete = true, delay = 0.05,
              ignore = { "skip\\xfe*" }\(auth) }
            """)

        let dry = try await RunnerProcess.run(["run", "--once", "--dry-run", script], logDirectory: dir.path)
        #expect(dry.stdout.contains("caf\\xE9.conf: send"), "the name is shown with its byte escaped: \(dry.stdout)")
        #expect(dry.stdout.contains("skip\\xFE.conf: ignored"), "\(dry.stdout)")

        let once = try await RunnerProcess.run(["run", "--once", script], logDirectory: dir.path)
        #expect(once.status == 0, "\(once.stderr)")
        var expected = Self.tree(dir.at("src"))
        expected[Self.skipped] = nil
        #expect(Self.tree(dir.at("module")) == expected)

        // Live: a new file, a move, and a delete, each by its bytes.
        let runner = try RunnerProcess(["run", script], logDirectory: dir.path)
        #expect(await runner.waitForLog("ready"), "\(runner.stderr)")
        try Self.create(Self.path(dir.at("src"), Self.fresh), "[fresh]\n")
        rename(Self.path(dir.at("src"), Self.cafe), Self.path(dir.at("src"), Self.cafeMoved))
        unlink(Self.path(dir.at("src"), Self.directory, Array("www.conf".utf8)))
        expected = Self.tree(dir.at("src"))
        expected[Self.skipped] = nil
        #expect(expected[Self.cafeMoved] == "[cafe]\n" && expected[Self.fresh] == "[fresh]\n")
        #expect(await eventually { Self.tree(dir.at("module")) == expected }, "\(runner.stderr)")
        runner.signal(SIGTERM)
        #expect(await runner.waitForExit() == 0)
    }
}
