import Testing

@testable import Pipeline

/// A state another sender wrote, taken into this sender's numbers by content: what matches
/// is kept, what does not falls to the safe side (unknown, unapproved), never the other way.
@Suite struct RolloutStateTranslateTests {
    /// Their revisions 4 (content X) and 5 (content Y); this sender holds Y as its 9.
    static func theirs() -> (RolloutState, [Int: String]) {
        var s = RolloutState()
        s.head = 5
        s.groups["web"] = .init(approved: 4, released: 4, head: 5, admitted: 5)
        s.groups["reg"] = .init(
            approved: 4, released: 4, head: 5, admitted: 4, waiting: 5, waitingWhy: "approve = true")
        s.hosts["canary"] = .init(applied: 5, renderKey: "k1")
        s.hosts["rest"] = .init(applied: 4)
        s.hosts["busy"] = .init(applied: 4, sending: 5)
        s.hosts["refusing"] = .init(applied: 4, refused: 5, refusal: "php-fpm -t failed")
        return (s, [4: "X", 5: "Y"])
    }

    static let groupOf = ["canary": "web", "rest": "web", "busy": "reg", "refusing": "reg"]

    @Test func whatThisSenderHoldsKeepsItsPlaceUnderItsOwnNumber() {
        let (s, ids) = Self.theirs()
        let t = s.translated(theirs: ids, mine: ["Y": 9], groupOf: Self.groupOf)
        #expect(t.head == 9)
        #expect(t.hosts["canary"]?.applied == 9 && t.hosts["canary"]?.renderKey == "k1")
        #expect(t.hosts["refusing"]?.refused == 9 && t.hosts["refusing"]?.refusal == "php-fpm -t failed")
        #expect(t.groups["reg"]?.waiting == 9 && t.groups["reg"]?.waitingWhy == "approve = true")
        #expect(t.groups["web"]?.admitted == 9)
    }

    @Test func whatItDoesNotHoldIsNeverTakenAsAppliedOrApproved() {
        let (s, ids) = Self.theirs()
        let t = s.translated(theirs: ids, mine: ["Y": 9], groupOf: Self.groupOf)
        // X is not this sender's: a host at X is compared whole; no group has X approved.
        #expect(t.hosts["rest"]?.applied == nil)
        #expect(t.groups["web"]?.approved == 0 && t.groups["web"]?.released == 0)
        // reg's admitted was X: it falls back to what is approved (nothing), so Y still waits.
        #expect(t.groups["reg"]?.admitted == 0 && t.groups["reg"]?.waiting == 9)
        // Under way when the other stopped: unknown, whatever it had before.
        #expect(t.hosts["busy"]?.applied == nil)
    }

    @Test func aStateOfContentThisSenderNeverHadKeepsNothing() {
        let (s, ids) = Self.theirs()
        let t = s.translated(theirs: ids, mine: ["Z": 3], groupOf: Self.groupOf)
        #expect(t.head == 0 && t.revisions.isEmpty)
        #expect(t.hosts.values.allSatisfy { $0.applied == nil })
    }

    @Test func revisionsListsEveryNumberTheStateNames() {
        let (s, _) = Self.theirs()
        #expect(s.revisions == [4, 5])
    }

    @Test func aHostBehindAnApprovedRevisionNotHeldIsNoVerdictForAnOlderOne() {
        // web approved Y (5); its canary is still at X (4). A standby that holds X, not Y, must
        // not take the canary's X as a verdict (with nothing approved it would approve X and
        // roll the group back): the canary becomes unknown.
        var s = RolloutState()
        s.head = 5
        s.groups["web"] = .init(approved: 5, released: 5, head: 5, admitted: 5)
        s.hosts["canary"] = .init(applied: 4)
        s.hosts["rest"] = .init(applied: 5)
        let t = s.translated(theirs: [4: "X", 5: "Y"], mine: ["X": 2], groupOf: ["canary": "web", "rest": "web"])
        #expect(t.groups["web"]?.approved == 0)
        #expect(t.hosts["canary"]?.applied == nil && t.hosts["rest"]?.applied == nil)
        // Held, the same host keeps its place.
        let u = s.translated(
            theirs: [4: "X", 5: "Y"], mine: ["X": 2, "Y": 3], groupOf: ["canary": "web", "rest": "web"])
        #expect(u.hosts["canary"]?.applied == 2 && u.groups["web"]?.approved == 3)
    }
}
