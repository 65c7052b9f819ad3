import FoundationEssentials
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// An operator's command to a pipeline shared by senders, as it waits in etcd under
/// `/runner/<pipeline>/commands/<group>` (one per group at a time) for the leader to carry
/// it out; the leader's answer replaces it under `done/<group>`.
public struct EtcdOperatorCommand: Codable, Sendable, Equatable {
    public var id: String
    public var request: ControlRequest
    /// `user (uid N) on host`.
    public var by: String
    /// Wall-clock seconds since the epoch.
    public var at: Double

    /// "approve 5 by alice (uid 1000) on ops1 at 2026-…".
    public var text: String {
        "\(request.command.rawValue)\(request.revision.map { " \($0)" } ?? "") by \(by) at \(Date(timeIntervalSince1970: at).formatted(.iso8601))"
    }
}

/// What the leader made of a command.
public struct EtcdOperatorOutcome: Codable, Sendable, Equatable {
    public var command: EtcdOperatorCommand
    public var reply: ControlReply
    /// The sender that carried it out.
    public var leader: String
}

/// `runner approve`, `reject` and `rollback` of a pipeline with `settings.coordination`: the
/// command goes to whichever sender leads, from any machine, as a txn that holds only if the
/// group is still as the operator's command saw it and no other command waits for it. A
/// stale one is refused with what moved ("head moved to 6 by sender-b at …").
public enum EtcdOperators {
    /// The keys of `pipeline`'s group `group`.
    static func keys(_ pipeline: String, _ group: String) -> (
        group: String, command: String, done: String, head: String
    ) {
        let prefix = "/runner/\(pipeline)/"
        return (prefix + "groups/" + group, prefix + "commands/" + group, prefix + "done/" + group, prefix + "head")
    }

    /// Who runs this command: `user (uid N) on host`.
    public static var `operator`: String { "\(PipelineRunner.operatorName(geteuid())) on \(HostName.current)" }

    /// Puts `request` to the leader of `pipeline` through etcd and waits (at most `timeout`
    /// seconds) for its answer; a command nobody took by then is withdrawn.
    public static func send(
        _ request: ControlRequest, pipeline: String, endpoints: [EtcdEndpoint], by: String, timeout: Double = 30
    ) throws(ControlClient.Failure) -> ControlReply {
        do {
            return try exchange(request, pipeline: pipeline, endpoints: endpoints, by: by, timeout: timeout)
        } catch let failure as ControlClient.Failure {
            throw failure
        } catch {
            throw ControlClient.Failure(description: "etcd: \(error)")
        }
    }

    private static func exchange(
        _ request: ControlRequest, pipeline: String, endpoints: [EtcdEndpoint], by: String, timeout: Double
    ) throws -> ControlReply {
        let client = EtcdClient(endpoints: endpoints, timeout: 2)
        let k = keys(pipeline, request.group)
        guard let seen = try client.range(k.group).kvs.first else {
            throw ControlClient.Failure(
                description:
                    "etcd has no group '\(request.group)' of pipeline '\(pipeline)' (no sender has led it, or it sends to no such group)"
            )
        }
        // An approval of a given revision is checked against what the group waits with now.
        if request.command == .approve, let n = request.revision,
            let group = try? JSONDecoder().decode(RolloutState.Group.self, from: Data(seen.value)),
            group.waiting.map({ n > (group.admitted ?? 0) && n <= $0 }) != true
        {
            throw ControlClient.Failure(
                description:
                    "refused: revision \(n) does not wait for approval in group \(request.group) (\(try moved(client, k)))"
            )
        }
        let command = EtcdOperatorCommand(
            id: String(UInt64.random(in: 1...UInt64.max), radix: 16), request: request, by: by,
            at: Date().timeIntervalSince1970)
        let value = Array(try JSONEncoder().encode(command))
        let result = try client.txn(
            [.createRevision(k.command, equals: 0), .modRevision(k.group, equals: seen.modRevision)],
            success: [.put(k.command, value)], failure: [.range(k.command)])
        guard result.succeeded else {
            if let pending = result.ranges.first?.first,
                let other = try? JSONDecoder().decode(EtcdOperatorCommand.self, from: Data(pending.value))
            {
                throw ControlClient.Failure(
                    description: "refused: group \(request.group) has a command waiting for the leader: \(other.text)")
            }
            throw ControlClient.Failure(
                description:
                    "refused: group \(request.group) changed since this command looked (\(try moved(client, k)))")
        }
        let deadline = MonotonicClock.now + timeout
        while MonotonicClock.now < deadline {
            if let done = try? client.range(k.done).kvs.first,
                let outcome = try? JSONDecoder().decode(EtcdOperatorOutcome.self, from: Data(done.value)),
                outcome.command.id == command.id
            {
                var reply = outcome.reply
                reply.message = "\(outcome.leader): \(reply.message)"
                // A refusal says where the pipeline is now.
                if !reply.ok, let head = try? self.head(client, k) { reply.message += " (head moved to \(head.text))" }
                return reply
            }
            usleep(100_000)
        }
        _ = try? client.txn([.value(k.command, equals: value)], success: [.delete(k.command)])
        throw ControlClient.Failure(
            description: "no sender of pipeline \(pipeline) took the command within \(Int(timeout)) s: withdrawn")
    }

    /// The head key as etcd has it now (nil: none yet).
    private static func head(_ client: EtcdClient, _ k: (group: String, command: String, done: String, head: String))
        throws -> EtcdRolloutStore.Head?
    {
        try client.range(k.head).kvs.first.flatMap { EtcdRolloutStore.Head.read($0.value) }
    }

    /// "head moved to 6 by sender-b at …; last: approve 5 by … (revision 5 approved …)".
    private static func moved(_ client: EtcdClient, _ k: (group: String, command: String, done: String, head: String))
        throws -> String
    {
        var text = "head moved to \(try head(client, k)?.text ?? "0")"
        if let done = try client.range(k.done).kvs.first,
            let last = try? JSONDecoder().decode(EtcdOperatorOutcome.self, from: Data(done.value))
        {
            text += "; last: \(last.command.text): \(last.reply.message)"
        }
        return text
    }
}
