import Testing

@testable import Pipeline

#if canImport(Glibc)
    import Glibc
#endif

/// The board where dialed connections wait: only what a pipeline lists, with a secret, is
/// let in; a name holds one live connection; a connection whose peer hung up gives way.
@Suite struct DialBoardTests {
    private func pair() -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        return (fds[0], fds[1])
    }

    @Test func onlyListedTargetsWithASecretAreLetIn() throws {
        let board = DialBoard()
        board.setSecrets(["web-f1": "s"])
        _ = try board.expect(
            pipeline: "p", targets: [.dial(name: "web-f1", module: "fpm"), .dial(name: "x", module: "m")])
        #expect(try board.secret(pipeline: "p", name: "web-f1", module: "fpm") == "s")
        #expect(throws: DialBoard.Refusal.unknownPipeline("q")) {
            try board.secret(pipeline: "q", name: "web-f1", module: "fpm")
        }
        #expect(throws: DialBoard.Refusal.self) { try board.secret(pipeline: "p", name: "web-f1", module: "other") }
        #expect(throws: DialBoard.Refusal.noSecret("x")) { try board.secret(pipeline: "p", name: "x", module: "m") }
    }

    @Test func aNameHoldsOneLiveConnectionAndAHungUpOneGivesWay() throws {
        let board = DialBoard()
        let target = TargetURI.dial(name: "web-f1", module: "fpm")
        let wakeup = try board.expect(pipeline: "p", targets: [target])
        let (a, aPeer) = pair()
        try board.park(a, pipeline: "p", target: target, peer: "one", once: false)
        var ready = pollfd(fd: wakeup.descriptor, events: Int16(POLLIN), revents: 0)
        #expect(poll(&ready, 1, 0) == 1, "the pipeline is woken")
        #expect(board.arrivals(pipeline: "p").map(\.target) == [target])
        #expect(board.arrivals(pipeline: "p").isEmpty)
        let (b, bPeer) = pair()
        #expect(throws: DialBoard.Refusal.inUse("\(target)", peer: "one")) {
            try board.park(b, pipeline: "p", target: target, peer: "two", once: false)
        }
        // Taken by its delivery, it still holds the name while its peer is there.
        let taken = try #require(board.take(pipeline: "p", target: target))
        #expect(taken == a && board.take(pipeline: "p", target: target) == nil)
        #expect(throws: DialBoard.Refusal.self) {
            try board.park(b, pipeline: "p", target: target, peer: "two", once: true)
        }
        close(aPeer)
        try board.park(b, pipeline: "p", target: target, peer: "two", once: true)
        #expect(board.arrivals(pipeline: "p").map(\.once) == [true])
        // The old one's delivery lets go of it: the new one keeps the name.
        board.dropped(pipeline: "p", target: target, fd: a)
        let (c, cPeer) = pair()
        #expect(throws: DialBoard.Refusal.self) {
            try board.park(c, pipeline: "p", target: target, peer: "three", once: false)
        }
        for fd in [a, b, c, bPeer, cPeer] { close(fd) }
    }
}
