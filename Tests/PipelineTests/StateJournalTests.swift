import Foundation
import RunnerSystem
import TestSupport
import Testing

@testable import Pipeline

/// The rollout's memory: lines written by hand that `JSONDecoder` reads back as they were,
/// a journal replayed over its snapshot, a torn last line dropped.
@Suite struct StateJournalTests {
    /// Text that JSON must escape, and text it must not touch.
    static let pieces = [
        "a", "web-f1", "\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "😀", "\u{2028}", "/", " ",
    ]

    static func text(_ r: inout SplitMix) -> String? {
        guard r.next() % 4 != 0 else { return nil }
        return (0..<Int(r.next() % 6)).map { _ in pieces[Int(r.next() % UInt64(pieces.count))] }.joined()
    }

    static func number(_ r: inout SplitMix) -> Int? {
        r.next() % 3 == 0 ? nil : Int(truncatingIfNeeded: r.next() >> UInt64(r.next() % 64))
    }

    static func line(_ r: inout SplitMix) -> StateJournal.Line {
        var line = StateJournal.Line()
        switch r.next() % 3 {
        case 0: line.head = Int(r.next() % 1_000_000)
        case 1:
            line.group = text(&r) ?? ""
            line.groupState = .init(
                approved: number(&r) ?? 0, released: number(&r) ?? 0, held: number(&r), heldWhy: text(&r),
                halted: number(&r), haltedWhy: text(&r), head: number(&r), admitted: number(&r), waiting: number(&r),
                waitingWhy: text(&r))
        default:
            line.host = text(&r) ?? "runner://127.0.0.1:1/m"
            line.hostState = .init(
                applied: number(&r), sending: number(&r), refused: number(&r), refusal: text(&r), renderKey: text(&r))
        }
        return line
    }

    @Test func everyLineReadsBackAsItWasWritten() throws {
        for seed in UInt64(0)..<2_000 {
            var r = SplitMix(state: seed)
            let line = Self.line(&r)
            let decoded = try JSONDecoder().decode(StateJournal.Line.self, from: Data(line.json))
            #expect(decoded == line, "seed \(seed): \(String(decoding: line.json, as: UTF8.self))")
        }
    }

    @Test func aJournalReplaysOverItsSnapshotAndDropsATornLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var state = RolloutState()
        state.head = 3
        state.groups["g"] = .init(approved: 2, released: 2, held: 3, heldWhy: "canary \"a\" failed\n")
        state.hosts["runner://127.0.0.1:1/m"] = .init(applied: 2, sending: 3)
        let journal = StateJournal(directory: dir.path)
        try journal.save(state)
        try journal.compact(state)
        state.head = 4
        state.hosts["runner://127.0.0.1:1/m"] = .init(applied: 3, refused: 4, refusal: "php-fpm -t: \\ failed")
        try journal.save(state)
        #expect(StateJournal(directory: dir.path).written == state)

        // A crash mid-write leaves half a line: the whole ones still count.
        let torn = try FileHandle(forWritingTo: URL(fileURLWithPath: journal.journalPath))
        try torn.seekToEnd()
        try torn.write(contentsOf: Data("{\"head\":9".utf8))
        try torn.close()
        #expect(StateJournal(directory: dir.path).written == state)
    }

    /// Answers saved host by host (the head, the groups and the answering host) read back
    /// as the whole state, across the compaction every thousand lines.
    @Test func answersSavedHostByHostReadBackAsTheWholeState() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var r = SplitMix(state: 27)
        var state = RolloutState()
        let uris = (0..<40).map { "runner://127.0.0.1:\($0 + 1)/m" }
        for uri in uris { state.hosts[uri] = .init(applied: 1) }
        state.groups["g"] = .init(approved: 1, released: 1)
        let journal = StateJournal(directory: dir.path)
        try journal.save(state)
        for step in 0..<1_500 {
            let uri = uris[Int(r.next() % UInt64(uris.count))]
            state.hosts[uri] = .init(applied: Self.number(&r), refused: Self.number(&r), refusal: Self.text(&r))
            if r.next() % 5 == 0 { state.groups["g"]?.approved = step }
            if r.next() % 7 == 0 { state.head = step }
            var partial = state
            partial.hosts = [uri: state.hosts[uri]!]
            try journal.save(changedHosts: partial)
            #expect(journal.written == state, "step \(step)")
        }
        #expect(StateJournal(directory: dir.path).written == state)
    }
}
