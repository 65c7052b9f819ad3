import Foundation

/// A plain TCP client for speaking raw bytes to `runner serve` in tests.
public final class RawConnection: @unchecked Sendable {
    // @unchecked: one test owns a connection and uses it from one task at a time.
    public let fd: Int32

    /// Connects to 127.0.0.1:port. With `wait: false` the connection completes in the
    /// background (a flood does not stall on a full listen backlog).
    public init(port: Int, wait: Bool = true) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if !wait { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 || (!wait && errno == EINPROGRESS) else {
            close(fd)
            throw POSIXError(.init(rawValue: errno) ?? .ECONNREFUSED)
        }
    }

    /// A connection a listener accepted.
    public init(accepted fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// Sends all of `bytes`; false when the peer is gone.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    /// Everything the peer sends until it closes or `timeout` passes.
    public func readAll(timeout: Double) -> [UInt8] {
        var out: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        var buf = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1000))) == 1 else { break }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return out }
            out += buf[..<n]
        }
        return out
    }

    /// Reads one frame (length, type, payload), waiting up to `timeout`.
    public func readFrame(timeout: Double = 10) -> (type: UInt8, payload: [UInt8])? {
        func exactly(_ n: Int) -> [UInt8]? {
            var out: [UInt8] = []
            let deadline = Date().addingTimeInterval(timeout)
            while out.count < n, Date() < deadline {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 100) >= 0 else { return nil }
                if p.revents == 0 { continue }
                var buf = [UInt8](repeating: 0, count: n - out.count)
                let got = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if got <= 0 { return nil }
                out += buf[..<got]
            }
            return out.count == n ? out : nil
        }
        guard let header = exactly(5) else { return nil }
        let length = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
        guard let payload = exactly(length - 1) else { return nil }
        return (header[4], payload)
    }
}

/// `runner serve` as a child process, with the port it listens on.
public final class ServeProcess: @unchecked Sendable {
    // @unchecked: as RunnerProcess.
    public let process: RunnerProcess
    public let port: Int

    /// Starts the daemon on a receiver script that listens on 127.0.0.1:0.
    public init(
        script: String, environment: [String: String] = [:], logDirectory: String, launcher: [String] = [],
        host: String = "127.0.0.1"
    ) async throws {
        process = try RunnerProcess(
            ["serve", script], environment: environment, logDirectory: logDirectory, launcher: launcher)
        guard await process.waitForLog("listening on \(host):"),
            let line = process.stderr.split(separator: "\n").first(where: { $0.contains("listening on \(host):") }),
            let port = Int(line.split(separator: ":").last ?? "")
        else {
            throw CocoaError(
                .featureUnsupported,
                userInfo: [NSLocalizedDescriptionKey: "runner serve did not start: \(process.stderr)"])
        }
        self.port = port
    }

    public func stop() async -> Int32? {
        process.signal(SIGTERM)
        return await process.waitForExit()
    }
}
