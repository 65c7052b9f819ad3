import FoundationEssentials
import RunnerSystem

extension PipelineRunner {
    /// Carries out the operators' commands waiting in etcd, while this sender leads: each
    /// once, answered under `done/<group>` in a txn that holds only while this term does
    /// and the command is still the one read.
    func serveEtcdOperators(control: RunControl) {
        guard let lead else { return }
        lead.inbox.wakeup.drain()
        guard let term = lead.term else { return }
        for pending in lead.inbox.pending where !lead.answered.contains(pending.command.id) {
            let command = pending.command
            let reply = operate(command.request, who: command.by, control: control)
            if lead.answered.count > 1024 { lead.answered.removeAll() }
            lead.answered.insert(command.id)
            let k = EtcdOperators.keys(config.name, command.request.group)
            let outcome = EtcdOperatorOutcome(command: command, reply: reply, leader: lead.settings.name)
            do {
                let value = Array(try JSONEncoder().encode(outcome))
                _ = try lead.store.client.txn(
                    [
                        .createRevision(lead.store.leaderKey, equals: Int64(term)),
                        .modRevision(pending.key, equals: pending.modRevision),
                    ],
                    success: [.delete(pending.key), .put(k.done, value)])
            } catch {
                logger.error("cannot answer \(command.text) in etcd: \(error)")
            }
        }
    }
}
