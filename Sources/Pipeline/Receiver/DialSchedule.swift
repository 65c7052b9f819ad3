/// When a module with `upstream` dials its sender next: at once at start; after a session
/// that was served, again within a second (the sender closed it, or it idled out); after a
/// failure, with a backoff that doubles up to a minute; after a refusal (a wrong secret, an
/// unknown name), a minute, since dialing again will not help until someone fixes it. Each
/// wait is jittered by up to a fifth, so a thousand hosts cut off together do not dial back
/// in one instant. A value given the time and a draw in 0..<1.
struct DialSchedule: Sendable, Equatable {
    /// How a dial ended.
    enum Outcome: Sendable, Equatable {
        /// A session was served over the connection.
        case served
        /// The sender could not be reached, or the handshake broke off.
        case failed
        /// The sender refused the name or its proof, or did not prove the secret itself.
        case refused
    }

    static let initial = 1.0
    static let maximum = 60.0

    /// When the next dial is due.
    private(set) var due: Double
    private var backoff = DialSchedule.initial

    /// A schedule whose first dial is due at `now`.
    init(now: Double) { due = now }

    /// The dial that ended at `now` ended so; `draw` jitters the wait. Returns the wait.
    @discardableResult
    mutating func ended(_ outcome: Outcome, now: Double, draw: Double) -> Double {
        let wait: Double
        switch outcome {
        case .served:
            backoff = Self.initial
            wait = 0.2
        case .failed:
            wait = backoff
            backoff = min(backoff * 2, Self.maximum)
        case .refused:
            wait = Self.maximum
        }
        let jittered = wait * (0.8 + 0.4 * min(max(draw, 0), 1))
        due = now + jittered
        return jittered
    }

    /// The exit status a dialing child reports its outcome with, and back.
    static func status(_ outcome: Outcome) -> Int32 {
        switch outcome {
        case .served: 0
        case .failed: 3
        case .refused: 4
        }
    }

    static func outcome(status: Int32) -> Outcome {
        switch status {
        case 0: .served
        case 4: .refused
        default: .failed
        }
    }
}
