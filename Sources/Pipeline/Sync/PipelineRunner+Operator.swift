import FoundationEssentials
import Logging
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

extension PipelineRunner {
    /// Answers every operator waiting at the control socket (mode 0600; a peer that is
    /// neither this process's user nor root is refused before its request is read), one
    /// request line each, read within a second.
    func serveOperators(control: RunControl) {
        guard let listener = operatorSocket else { return }
        while let (fd, uid) = listener.accept() {
            defer { close(fd) }
            let reply: ControlReply
            if uid != geteuid() && uid != 0 {
                reply = ControlReply(
                    ok: false, message: "refused: uid \(uid) is not the sender's user (uid \(geteuid()))")
            } else if let request = ControlClient.readLine(fd, ControlRequest.self, timeout: 1, limit: 64 << 10) {
                reply = operate(request, who: Self.operatorName(uid), control: control)
            } else {
                reply = ControlReply(ok: false, message: "refused: no request line (one JSON object) within a second")
            }
            ControlClient.writeLine(fd, reply)
        }
    }

    /// An operator's command from the control socket, on the run loop: approve or reject what
    /// waits in a group, or roll a group back. Each one that changes something is logged as
    /// an audit line with the operator's uid and name.
    func operate(_ request: ControlRequest, who: String, control: RunControl) -> ControlReply {
        guard !dryRun else { return ControlReply(ok: false, message: "a dry run takes no commands") }
        guard isActive else {
            return ControlReply(
                ok: false,
                message:
                    "this sender stands by: the leader takes commands (runner \(request.command.rawValue) goes to it through etcd)"
            )
        }
        guard
            let g = rollout.groups.firstIndex(where: {
                $0.name == request.group && !$0.name.isEmpty && $0.name != Self.standbyGroup
            })
        else {
            let names = rollout.groups.map(\.name).filter { !$0.isEmpty && $0 != Self.standbyGroup }
            return ControlReply(
                ok: false,
                message:
                    "pipeline '\(config.name)' has no group '\(request.group)' (its groups: \(names.joined(separator: ", ")))"
            )
        }
        switch request.command {
        case .approve: return approve(g, request.revision, by: who, control: control)
        case .reject: return reject(g, by: who, control: control)
        case .rollback: return rollback(g, request, by: who, control: control)
        }
    }

    private func approve(_ g: Int, _ revision: Int?, by who: String, control: RunControl) -> ControlReply {
        let group = rollout.groups[g]
        guard let waiting = group.waiting, (revision ?? waiting.revision) > group.admitted else {
            if let revision, revision > group.head {
                return ControlReply(ok: false, message: "group \(group.name) has no revision \(revision) yet")
            }
            return ControlReply(
                ok: true,
                message: "nothing waits for approval in group \(group.name): revision \(group.admitted) may go already",
                revision: group.admitted)
        }
        let r = revision ?? waiting.revision
        guard r <= waiting.revision, let record = log.record(r), record.group == nil || record.group == group.name
        else {
            return ControlReply(
                ok: false,
                message:
                    "revision \(r) is not one group \(group.name) waits with (revisions \(group.admitted + 1) to \(waiting.revision))"
            )
        }
        // A standby that takes over holds its source as it is: what is approved must be that.
        if let s = rollout.groups.firstIndex(where: { $0.name == Self.standbyGroup }),
            let other = rollout.groups[s].hosts.first(where: { rollout.hosts[$0].applied != r })
        {
            let at = rollout.hosts[other].applied.map { "revision \($0)" } ?? "an unknown revision"
            return ControlReply(
                ok: false,
                message:
                    "revision \(r) cannot be approved: the standby's source \(rollout.hosts[other].uri) does not hold it (it is at \(at)); approve the revision it holds, or again once it has this one"
            )
        }
        audit("group \(group.name): revision \(r) approved by \(who)", .approval, g, r, by: who)
        handle(.approve(group: g, revision: r), control: control)
        return ControlReply(ok: true, message: "revision \(r) approved for group \(group.name)", revision: r)
    }

    private func reject(_ g: Int, by who: String, control: RunControl) -> ControlReply {
        let group = rollout.groups[g]
        guard let waiting = group.waiting else {
            return ControlReply(ok: true, message: "nothing waits for approval in group \(group.name)")
        }
        audit(
            "group \(group.name): revision \(waiting.revision) rejected by \(who); the group stays at revision \(group.admitted)",
            .rejection, g, waiting.revision, by: who)
        handle(.reject(group: g), control: control)
        return ControlReply(ok: true, message: "revision \(waiting.revision) rejected for group \(group.name)")
    }

    private func rollback(_ g: Int, _ request: ControlRequest, by who: String, control: RunControl) -> ControlReply {
        let group = rollout.groups[g]
        guard let to = request.last == true ? previousRevision(g) : request.revision else {
            return ControlReply(ok: false, message: "group \(group.name) had no revision before \(group.approved)")
        }
        guard let record = log.record(to), log.tree(record) != nil, record.group == nil || record.group == group.name
        else {
            let kept = log.numbers()
            return ControlReply(
                ok: false,
                message:
                    "revision \(to) is not one of group \(group.name)'s kept revisions (kept: \(kept.first ?? 0) to \(kept.last ?? 0), keep_revisions = \(config.keepRevisions))"
            )
        }
        // What the group's hosts have: its approved revision (not one its canary refused).
        let from = log.record(group.approved)
        if request.dryRun == true {
            return ControlReply(
                ok: true,
                message: "group \(group.name) would go from revision \(group.approved) to revision \(to)'s content",
                diff: changes(from: from, to: record, group: g))
        }
        let cut: RevisionRecord
        do { cut = try log.rollback(to: record, from: from, group: group.name, by: who) } catch {
            return ControlReply(ok: false, message: "cannot roll back: \(error)")
        }
        audit(
            "group \(group.name): rolled back to revision \(to) as revision \(cut.number) by \(who): \(cut.changedCount) path(s)",
            .rollback, g, cut.number, by: who)
        lastCutAt = MonotonicClock.now
        handle(.rollback(group: g, revision: cut.number), control: control)
        if writeBehindAt == nil { writeBehindAt = MonotonicClock.now + 1 }
        writeBehind(now: MonotonicClock.now)
        return ControlReply(
            ok: true, message: "group \(group.name): revision \(cut.number) has revision \(to)'s content",
            revision: cut.number)
    }

    /// The revision group `g` had before its approved one: the newest older one of the group
    /// that its canaries did not refuse (nil: none kept).
    private func previousRevision(_ g: Int) -> Int? {
        let group = rollout.groups[g]
        let held = Set(
            RolloutHistory.read(directory: log.directory).filter { $0.group == group.name && $0.kind == .held }.map(
                \.revision))
        return log.numbers().reversed().first { n in
            n < group.approved && !held.contains(n)
                && (log.record(n).map { $0.group == nil || $0.group == group.name } ?? false)
        }
    }

    /// What going from `from` to `to` changes at group `g`'s first host, file by file.
    func changes(from: RevisionRecord?, to: RevisionRecord, group g: Int) -> String {
        guard let first = rollout.groups[g].hosts.first else { return "" }
        do {
            return try RevisionDiffText(log: log, config: config, hooks: hooks).text(
                from: from, to: to, for: fleet.hosts[first].destination)
        } catch {
            return "cannot show it: \(error)\n"
        }
    }

    /// One line of the audit trail: logged at notice with its kind (`journalctl
    /// RUNNER_AUDIT=approval`), and kept in the rollout's history for `runner log`.
    func audit(_ text: String, _ kind: RolloutEvent.Kind, _ g: Int, _ revision: Int, by who: String) {
        let group = rollout.groups[g].name
        logger.notice(
            "\(text)",
            metadata: ["audit": "\(kind.rawValue)", "group": "\(group)", "revision": "\(revision)", "by": "\(who)"])
        let event = RolloutEvent(
            time: Date().timeIntervalSince1970, kind: kind, group: group, revision: revision, by: who)
        keep(event)
    }

    /// `name (uid N)` of a uid, or `uid N`.
    public static func operatorName(_ uid: uid_t) -> String {
        UserDatabase.userName(uid).map { "\($0) (uid \(uid))" } ?? "uid \(uid)"
    }
}
