import Foundation
import Pipeline
import RunnerSystem

/// Two senders: the leader is deposed (its lease ran out, so it stopped pushing first) and the
/// standby takes over from the state the leader kept in etcd. Unlike a restart, the deposed
/// leader's deliveries under way still land; a host commits one only until the new leader's
/// first hello there raises its fence, after which it refuses it. The invariants are the
/// simulation's own: the new leader believes of each host what the host has, and sends no
/// host a revision it has.
extension Simulation {
    /// When the standby takes over: up to two times, from a generator of their own, so that the
    /// schedules drawn from a seed are otherwise what they were.
    static func takeovers(_ seed: UInt64) -> [Double] {
        var r = SplitMix(state: seed ^ 0x7A4E_1EAD_E12C_0FFE)
        return (0..<Int.random(in: 0...2, using: &r)).map { _ in Double.random(in: 1...28, using: &r) }.sorted()
    }

    /// The standby holds the newest revision's content (its source is the edit point) and,
    /// drawn at random, some of the older ones: what it does not hold it takes on the safe
    /// side (`RolloutState.translated`).
    mutating func takeover() {
        let newest = revisions.keys.max() ?? 0
        // In order: a seed replays the same draws.
        let held = Set(revisions.keys.sorted().filter { $0 == newest || Bool.random(using: &random) })
        if tracing { log("the leader is deposed; the standby takes over, holding \(held.sorted())") }
        term += 1
        lost = Set(revisions.keys).subtracting(held)
        adoptTranslatedState(held: held)
    }

    /// A new machine from what the deposed leader left in etcd, taken by content into a
    /// standby that holds `held`: a host keeps its revision only where it is held (else it is
    /// compared whole), a group its approved one likewise (else nothing is approved).
    mutating func adoptTranslatedState(held: Set<Int>) {
        let before = machine
        let theirs: RolloutState
        do {
            theirs = try JSONDecoder().decode(RolloutState.self, from: JSONEncoder().encode(before.state))
        } catch {
            return violation("the state does not survive JSON: \(error)")
        }
        let identities = Dictionary(uniqueKeysWithValues: revisions.keys.map { ($0, "r\($0)") })
        let mine = Dictionary(uniqueKeysWithValues: held.map { ("r\($0)", $0) })
        var groupNames: [String: String] = [:]
        for g in before.groups { for h in g.hosts { groupNames[before.hosts[h].uri] = g.name } }
        machine = Machine(
            layout: layout, policy: policy,
            state: theirs.translated(theirs: identities, mine: mine, groupOf: groupNames), seed: random.next())
        for h in machine.hosts.indices {
            let old = before.hosts[h], new = machine.hosts[h], approved = before.groups[groupOf[h]].approved
            // Held, not behind an approved revision that is not, nor ahead of what its group is
            // taken as admitted.
            let known = (old.sending == nil ? old.applied : nil).flatMap { held.contains($0) ? $0 : nil }
            let expected = known.flatMap { held.contains(approved) || approved == 0 || $0 >= approved ? $0 : nil }
                .flatMap { $0 <= machine.groups[groupOf[h]].admitted ? $0 : nil }
            if new.applied != expected {
                violation(
                    "h\(h) taken over at \(String(describing: new.applied)), etcd said \(String(describing: old.applied)) (held: \(held.sorted()))"
                )
            }
        }
        for (g, group) in machine.groups.enumerated() {
            let was = before.groups[g].approved
            if group.approved != (held.contains(was) ? was : 0) {
                violation(
                    "group \(group.name) taken over at approved \(group.approved), was \(was) (held: \(held.sorted()))")
            }
            // The oracle forgets with the standby: what it does not hold, no group may be sent
            // again (a group whose approved revision it lacks waits for its canaries or an
            // operator on what comes next); what waits, waits on.
            approvalFloor[g] = max(approvalFloor[g] ?? 0, admitted[g].max() ?? 0)
            admitted[g] = admitted[g].filter { held.contains($0) && $0 <= group.admitted }
            waiting[g] = group.waiting?.revision
            if tracing {
                log(
                    "g\(g) taken over: approved \(group.approved), admitted \(group.admitted), waiting \(String(describing: group.waiting?.revision)), oracle \(admitted[g].sorted())"
                )
            }
        }
        cutAtStart()
    }

    /// A deposed leader's delivery lands: committed unless a newer leader said hello there
    /// first (the host's fence); its answer reaches nobody.
    mutating func land(orphan flight: Flight) {
        let fenced = (fence[flight.host] ?? 0) > flight.term
        if flight.commits && !fenced { hosts[flight.host].actual = flight.revision }
        if tracing {
            log(
                "h\(flight.host) gets the deposed leader's revision \(flight.revision): \(fenced ? "fenced" : "committed")"
            )
        }
    }
}
