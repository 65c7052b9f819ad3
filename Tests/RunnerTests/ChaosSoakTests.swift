import Foundation
import TestSupport
import Testing

/// Random churn in the source while the sender, the receiver daemons (with their sessions) and
/// sessions alone are SIGKILLed, and restarted, at random; then every target equals the source (less its temp
/// files), no staging is left, and no temp file ever reached a target. `SOAK_S` seconds
/// (15 in `make test`, 60 in `make soak`); `SOAK_SEED` replays a run's churn.
@Suite struct ChaosSoakTests {
    static let seconds = Double(ProcessInfo.processInfo.environment["SOAK_S"] ?? "") ?? 15
    static let seed = UInt64(ProcessInfo.processInfo.environment["SOAK_SEED"] ?? "") ?? UInt64.random(in: 1...1 << 40)

    @Test func everyTargetEqualsTheSourceAfterKillsAndChurn() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let soak = try Soak(dir)
        try await soak.start()
        let churn = ChurnThread(root: dir.at("src"), seed: Self.seed)
        let sightings = TempSightings(roots: soak.targets)
        var kills: [String: Int] = [:]
        let started = Date()
        var random = SystemRandomNumberGenerator()
        while Date().timeIntervalSince(started) < Self.seconds {
            // The chaos schedule itself, not a wait for an effect: a kill every 0.3 to 1.5 s.
            try await Task.sleep(nanoseconds: UInt64.random(in: 300_000_000...1_500_000_000, using: &random))
            let victim = Int.random(in: 0..<5, using: &random)
            switch victim {
            case 0: try await soak.killSender()
            case 1, 2: try await soak.killDaemon(victim - 1)
            default: soak.killSessions(victim - 3)
            }
            kills[["sender", "daemon", "daemon", "sessions", "sessions"][victim], default: 0] += 1
        }
        let changes = churn.stop()
        let converging = Date()
        let converged = await eventually(timeout: 120) { soak.converged() }
        let tookSeconds = Date().timeIntervalSince(converging)
        let seen = sightings.stop()
        print(
            """
            soak: \(Int(Self.seconds)) s, seed \(Self.seed): \(changes.values.reduce(0, +)) changes \
            (\(changes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))); \
            kills: \(kills.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); \
            converged \(String(format: "%.1f", tookSeconds)) s after the churn stopped
            """)
        #expect(converged, "seed \(Self.seed): \(soak.differences())\n\(soak.sender.stderr.suffix(4000))")
        #expect(seen.isEmpty, "temp files reached a target: \(seen.sorted().prefix(10))")
        #expect(soak.stagingLeft().isEmpty, "left in staging: \(soak.stagingLeft().prefix(10))")
        await soak.stop()
    }
}

/// The churn on a thread of its own, until stopped.
final class ChurnThread: @unchecked Sendable {
    // @unchecked: `stopping` and `counts` are touched only under `lock`.
    private let lock = NSLock()
    private var stopping = false
    private var counts: [String: Int] = [:]
    private let done = DispatchSemaphore(value: 0)

    init(root: String, seed: UInt64) {
        Thread.detachNewThread { [self] in
            var churn = SourceChurn(root: root, seed: seed)
            while !lock.withLock({ stopping }) {
                churn.step()
                usleep(useconds_t.random(in: 1000...15_000))
            }
            lock.withLock { counts = churn.counts }
            done.signal()
        }
    }

    /// Stops and returns what the churn did.
    func stop() -> [String: Int] {
        lock.withLock { stopping = true }
        done.wait()
        return lock.withLock { counts }
    }
}

/// Watches the targets for temp files, with a look every 20 ms until stopped.
final class TempSightings: @unchecked Sendable {
    // @unchecked: `stopping` and `seen` are touched only under `lock`.
    private let lock = NSLock()
    private var stopping = false
    private var seen = Set<String>()
    private let done = DispatchSemaphore(value: 0)

    init(roots: [String]) {
        Thread.detachNewThread { [self] in
            while !lock.withLock({ stopping }) {
                for root in roots {
                    // Names only: reading every file 50 times a second would starve the run.
                    let paths = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
                    let temps = paths.filter(SourceChurn.isTemp)
                    if !temps.isEmpty { lock.withLock { seen.formUnion(temps.map { "\(root): \($0)" }) } }
                }
                usleep(20_000)
            }
            done.signal()
        }
    }

    func stop() -> Set<String> {
        lock.withLock { stopping = true }
        done.wait()
        return lock.withLock { seen }
    }
}
