extension Rollout {
    /// A host answered its delivery: what it applied, refused or failed moves its own state,
    /// and a canary's answer its group's.
    mutating func answered(_ h: Int, _ answer: Answer, now: Double, _ actions: inout [Action]) {
        guard let sent = hosts[h].sending else { return }
        hosts[h].sending = nil
        let g = hosts[h].group
        let canariesBefore = canaries(of: g)
        // A canary's verdict on a revision not approved yet decides for its group.
        let verdict = sent.asCanary && sent.revision > groups[g].approved
        switch answer {
        case .applied:
            reached(h, &actions)
            hosts[h].applied = sent.revision
            if sent.revision > groups[g].approved && canaries(of: g).contains(h) {
                groups[g].verdicts[sent.revision, default: []].insert(h)
            }
        case .actionFailed(let why):
            reached(h, &actions)
            hosts[h].applied = sent.revision
            refuse(g, h, sent.revision, why, verdict: verdict, now: now, &actions)
        case .refused(let why):
            reached(h, &actions)
            hosts[h].refused = sent.revision
            hosts[h].refusal = why
            refuse(g, h, sent.revision, why, verdict: verdict, now: now, &actions)
        case .failed(let why):
            if hosts[h].reachable == false {
                hosts[h].reachable = true
                chooseCanaries(g)
            }
            hosts[h].reachable = true
            hosts[h].lastError = why
            backOff(h, now: now)
            refuse(g, h, sent.revision, "failed: " + why, verdict: verdict, now: now, &actions)
        case .unreachable(let why):
            if hosts[h].reachable != false { actions.append(.down(host: h, why: why)) }
            hosts[h].reachable = false
            hosts[h].lastError = why
            hosts[h].applied = nil
            backOff(h, now: now)
            chooseCanaries(g)
            if canariesBefore.contains(h) {
                // Passed over: the next host that answers is the canary, and gets the candidate now.
                let next = canaries(of: g).first { !canariesBefore.contains($0) }
                actions.append(.canaryReplaced(group: g, host: h, next: next))
            }
        }
    }

    /// The host answered: it is up, and its backoff starts over.
    private mutating func reached(_ h: Int, _ actions: inout [Action]) {
        if hosts[h].reachable == false {
            actions.append(.back(host: h))
            hosts[h].reachable = true
            chooseCanaries(hosts[h].group)
        }
        hosts[h].reachable = true
        hosts[h].failures = 0
        hosts[h].notBefore = nil
        hosts[h].lastError = nil
    }

    /// A host did not take `revision`: a canary's verdict holds its group; another host's
    /// counts against `max_failures` when it is the revision the group released.
    private mutating func refuse(
        _ g: Int, _ h: Int, _ revision: Int, _ why: String, verdict: Bool, now: Double, _ actions: inout [Action]
    ) {
        if verdict {
            groups[g].refusedCandidates.insert(revision)
            guard revision > (groups[g].held?.revision ?? 0) else { return }
            groups[g].held = .init(revision: revision, why: "canary \(hosts[h].uri) \(why)", since: now)
            actions.append(.held(group: g, revision: revision, why: groups[g].held!.why))
            return
        }
        guard revision == groups[g].released, !canaries(of: g).contains(h) else { return }
        groups[g].failed.insert(h)
        if let limit = groups[g].maxFailures, groups[g].failed.count > limit, groups[g].halted == nil {
            let why = "\(groups[g].failed.count) failures (max_failures = \(limit)): \(hosts[h].uri) \(why)"
            groups[g].halted = .init(revision: revision, why: why, since: now)
            actions.append(.halted(group: g, revision: revision, why: why))
        }
    }

    /// The next attempt waits `initial · 2^(n-1)` seconds (at most `maximum`), less up to a
    /// fifth at random so that hosts that failed together do not retry in step.
    private mutating func backOff(_ h: Int, now: Double) {
        hosts[h].failures += 1
        guard policy.retries else {
            hosts[h].givenUp = true
            return
        }
        let base = min(policy.retryMaximum, policy.retryInitial * Double(1 << min(hosts[h].failures - 1, 30)))
        hosts[h].notBefore = now + base * Double.random(in: 0.8...1.0, using: &random)
    }
}
