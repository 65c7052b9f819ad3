import FoundationEssentials
import RunnerSystem

/// A watch on a key (or a prefix) over one streaming `/v3/watch` answer. A watch from a
/// revision etcd has compacted away is cancelled with the revision it still has: the caller
/// reads the keys afresh, then watches from there (`Step.compacted`).
public final class EtcdWatch {
    /// A change of a watched key.
    public enum Event: Sendable, Equatable {
        case put(EtcdClient.KeyValue)
        case delete(key: String, modRevision: Int64)
    }

    /// What one wait gave.
    public enum Step: Sendable, Equatable {
        /// Changes, and the store's revision they bring the watcher to.
        case events([Event], revision: Int64)
        /// Nothing before the deadline.
        case idle
        /// The start revision is compacted: read afresh, and watch from after this one.
        case compacted(Int64)
    }

    private let connection: EtcdHTTP

    /// Watches `key` (every key under it with `prefix`) from `revision` (0: from now), at the
    /// first member that takes the watch within `timeout`.
    public init(
        endpoints: [EtcdEndpoint], key: String, prefix: Bool = false, from revision: Int64 = 0, timeout: Double = 2
    ) throws(EtcdError) {
        var body = "{\"create_request\":{\"key\":\"\(EtcdClient.base64(key))\""
        if prefix { body += ",\"range_end\":\"\(EtcdClient.base64(EtcdClient.prefixEnd(key)))\"" }
        if revision > 0 { body += ",\"start_revision\":\"\(revision)\"" }
        body += ",\"progress_notify\":true}}"
        var last = EtcdError(nil, "watch", "no endpoints")
        for endpoint in endpoints {
            do throws(EtcdError) {
                let deadline = MonotonicClock.now + timeout / Double(endpoints.count)
                let connection = try EtcdHTTP(endpoint, deadline: deadline)
                let status = try connection.request("/v3/watch", body: body, deadline: deadline)
                guard status == 200 else { throw EtcdError(endpoint, "watch", "answered \(status)") }
                self.connection = connection
                return
            } catch {
                last = error
            }
        }
        throw last
    }

    /// The next changes, or `.idle` when none came before `deadline`.
    public func next(until deadline: Double) throws(EtcdError) -> Step {
        while true {
            let line: [UInt8]?
            do { line = try connection.streamLine(deadline: deadline) } catch  where error.timedOut { return .idle }
            guard let line else { throw EtcdError(connection.endpoint, "watch", "the member ended the watch") }
            if line.isEmpty { continue }
            guard let answer = try? JSONDecoder().decode(WatchAnswer.self, from: Data(line)) else {
                throw EtcdError(
                    connection.endpoint, "watch",
                    "a line that is not JSON: \(String(decoding: line.prefix(200), as: UTF8.self))")
            }
            if let error = answer.error { throw EtcdError(connection.endpoint, "watch", error.message ?? "an error") }
            guard let result = answer.result else { continue }
            if result.canceled == true {
                if let compacted = Int64(result.compact_revision ?? ""), compacted > 0 { return .compacted(compacted) }
                throw EtcdError(connection.endpoint, "watch", "cancelled: \(result.cancel_reason ?? "no reason given")")
            }
            let revision = Int64(result.header?.revision ?? "") ?? 0
            var events: [Event] = []
            for event in result.events ?? [] {
                guard let kv = event.kv else { continue }
                let value = try EtcdClient.keyValue(kv)
                events.append(
                    event.type == "DELETE" ? .delete(key: value.key, modRevision: value.modRevision) : .put(value))
            }
            // A progress notice (no events) still says how far the store is.
            if result.created == true && events.isEmpty { continue }
            return .events(events, revision: revision)
        }
    }
}
