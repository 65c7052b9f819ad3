import Logging
import LuaKit

@testable import LuaBridge

#if canImport(Glibc)
    import Glibc
#endif

/// The DSL loader under fuzzing: arbitrary script text, loaded as `runner check` loads a
/// file, with a short deadline (an endless loop must be a clean error) and without the
/// functions that would reach outside the process.
enum FuzzScript {
    static func run(_ input: [UInt8]) {
        let file = "/tmp/runner-fuzz-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).lua"
        defer { unlink(file) }
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        precondition(fd >= 0, "cannot write \(file)")
        input.withUnsafeBytes { precondition(write(fd, $0.baseAddress, $0.count) == $0.count) }
        close(fd)
        let logger = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }
        let loader = ConfigLoader(file: file, logger: logger, pluginDirectories: [])
        loader.timeout = 0.2
        do {
            try loader.state.run(
                "os.exit, os.execute, os.remove, os.rename, os.tmpname, io, print = nil, nil, nil, nil, nil, nil, nil")
        } catch {
            preconditionFailure("cannot prepare the state: \(error)")
        }
        _ = try? loader.load()
    }
}
