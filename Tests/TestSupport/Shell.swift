import Foundation

/// Runs a shell script with real tools (`sed -i`, `rsync`, `git`, `tar`, ...) and
/// returns its exit status and combined output.
@discardableResult
public func sh(_ script: String, in directory: String) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", "set -e\n" + script]
    p.currentDirectoryURL = URL(fileURLWithPath: directory)
    // A `runner` started here keeps its state in the test's directory, never the machine's.
    var environment = ProcessInfo.processInfo.environment
    environment["XDG_STATE_HOME"] = directory + "/state"
    p.environment = environment
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
