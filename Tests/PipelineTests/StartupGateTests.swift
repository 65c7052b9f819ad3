import Testing

@testable import Pipeline

/// Which connection a listener serves under a flood, and how often it says so.
@Suite struct StartupGateTests {
    let gate = StartupGate(maxConnections: 50)

    @Test func belowTheStartEveryConnectionIsServed() {
        for waiting in 0..<10 {
            #expect(gate.admit(unauthenticated: waiting, fromAddress: 0, authenticated: 49, draw: 0) == nil)
        }
    }

    @Test func pastTheStartTheDropRisesToAllAtFull() {
        // 30% at the start, all at full: a draw below the line is dropped.
        #expect(gate.admit(unauthenticated: 10, fromAddress: 0, authenticated: 0, draw: 0.29) == .startups)
        #expect(gate.admit(unauthenticated: 10, fromAddress: 0, authenticated: 0, draw: 0.31) == nil)
        #expect(gate.admit(unauthenticated: 55, fromAddress: 0, authenticated: 0, draw: 0.64) == .startups)
        #expect(gate.admit(unauthenticated: 55, fromAddress: 0, authenticated: 0, draw: 0.66) == nil)
        #expect(gate.admit(unauthenticated: 100, fromAddress: 0, authenticated: 0, draw: 0.999) == .startups)
    }

    @Test func oneAddressHoldsAtMostItsShare() {
        #expect(gate.admit(unauthenticated: 3, fromAddress: 10, authenticated: 0, draw: 0.99) == .perAddress)
        #expect(gate.admit(unauthenticated: 3, fromAddress: 9, authenticated: 0, draw: 0.99) == nil)
    }

    @Test func authenticatedSessionsHaveTheirOwnRoom() {
        // A full house of waiting connections leaves max_connections' room; authenticated
        // sessions fill only theirs.
        #expect(gate.admit(unauthenticated: 0, fromAddress: 0, authenticated: 50, draw: 0.99) == .busy)
        #expect(gate.admit(unauthenticated: 9, fromAddress: 0, authenticated: 49, draw: 0) == nil)
    }

    @Test func aFloodIsSaidOncePerIntervalWithItsCount() {
        var tally = RefusalTally(interval: 10)
        var lines: [String] = []
        for i in 0..<1_000 {
            if let line = tally.refused("too many", address: "127.0.0.\(2 + i % 2)", now: Double(i) / 100) {
                lines.append(line)
            }
        }
        if let line = tally.flush(now: 10.5) { lines.append(line) }
        #expect(lines.count == 2, "\(lines)")
        #expect(lines[0].hasPrefix("refused a connection from 127.0.0.2"))
        #expect(lines[1].hasPrefix("refused 999 more connection(s) in 10 s: 999 too many (most from 127.0.0."))
        // A quiet interval after: nothing to say, and the next refusal is said at once.
        #expect(tally.flush(now: 21) == nil)
        #expect(tally.refused("too many", address: "127.0.0.9", now: 30)?.hasPrefix("refused a connection") == true)
    }

    @Test(arguments: [
        ("10:30:100", StartupLimits.parts(10, 30, 100)), ("5", StartupLimits.parts(5, 100, 5)),
        ("20:50:200", StartupLimits.parts(20, 50, 200)),
    ])
    func maxStartupsReadsAsSshdWritesIt(text: String, parts: [Int]) throws {
        let limits = try #require(StartupLimits(parsing: text))
        #expect([limits.start, limits.rate, limits.full] == parts)
    }

    @Test(arguments: ["", "10:30", "0", "10:0:100", "10:130:100", "100:30:10", "a:b:c", "10:30:100:1"])
    func aMalformedMaxStartupsIsRefused(text: String) {
        #expect(StartupLimits(parsing: text) == nil)
    }

    @Test func aSingleNumberTurnsAwayPastItWithoutADraw() throws {
        var limits = try #require(StartupLimits(parsing: "5"))
        limits.perAddress = 100
        let gate = StartupGate(limits: limits, maxConnections: 50)
        #expect(gate.admit(unauthenticated: 4, fromAddress: 4, authenticated: 0, draw: 0) == nil)
        #expect(gate.admit(unauthenticated: 5, fromAddress: 5, authenticated: 0, draw: 0.999) == .startups)
    }
}

extension StartupLimits {
    static func parts(_ start: Int, _ rate: Int, _ full: Int) -> [Int] { [start, rate, full] }
}
