import FoundationEssentials
import RunnerSystem

/// A small client of etcd v3's JSON gateway (no maintained Swift client exists): range, put,
/// delete, txn, leases and their keepalives, and health; watches are `EtcdWatch`. Keys and
/// values travel as padded base64, int64s as strings; every call has a deadline and tries
/// the members in turn, starting from the last one that answered.
///
/// The gateway leaves default values out of its answers (a failed txn has no `succeeded`,
/// an empty range no `kvs`, a keepalive on a dead lease no `TTL`): each is read as absent.
public final class EtcdClient {
    public let endpoints: [EtcdEndpoint]
    /// Seconds each call may take, all members tried.
    public let timeout: Double
    private var preferred = 0

    /// One key as etcd has it.
    public struct KeyValue: Sendable, Equatable {
        public var key: String
        public var value: [UInt8]
        public var createRevision: Int64
        public var modRevision: Int64
        public var version: Int64
        public var lease: Int64
    }

    /// A condition of a txn.
    public enum Compare: Sendable {
        /// The key's `create_revision` is this (0: the key does not exist).
        case createRevision(String, equals: Int64)
        /// The key's `mod_revision` is this.
        case modRevision(String, equals: Int64)
        /// The key's value is this.
        case value(String, equals: [UInt8])
    }

    /// A request of a txn.
    public enum Request: Sendable {
        case put(String, [UInt8], lease: Int64 = 0)
        case delete(String)
        case range(String)
    }

    /// What a txn did.
    public struct TxnResult: Sendable {
        public var succeeded: Bool
        /// The store's revision after it.
        public var revision: Int64
        /// What each `range` request of the branch taken found.
        public var ranges: [[KeyValue]]
    }

    public init(endpoints: [EtcdEndpoint], timeout: Double = 2) {
        self.endpoints = endpoints
        self.timeout = timeout
    }

    /// The keys at `key` (or, with `prefix`, every key starting with it), and the store's revision.
    public func range(_ key: String, prefix: Bool = false) throws(EtcdError) -> (kvs: [KeyValue], revision: Int64) {
        var body = "{\"key\":\"\(Self.base64(key))\""
        if prefix { body += ",\"range_end\":\"\(Self.base64(Self.prefixEnd(key)))\"" }
        let answer: RangeAnswer = try call("/v3/kv/range", body + "}")
        return (try answer.kvs?.map(Self.keyValue) ?? [], Int64(answer.header?.revision ?? "") ?? 0)
    }

    /// Sets a key; returns the store's revision after it.
    @discardableResult
    public func put(_ key: String, _ value: [UInt8], lease: Int64 = 0) throws(EtcdError) -> Int64 {
        let answer: HeaderAnswer = try call("/v3/kv/put", Self.json(.put(key, value, lease: lease)))
        return Int64(answer.header?.revision ?? "") ?? 0
    }

    /// All `compares` hold: `success` runs, else `failure`; atomically.
    public func txn(_ compares: [Compare], success: [Request], failure: [Request] = []) throws(EtcdError)
        -> TxnResult
    {
        let body =
            "{\"compare\":[\(compares.map(Self.json).joined(separator: ","))],"
            + "\"success\":[\(success.map(Self.op).joined(separator: ","))],"
            + "\"failure\":[\(failure.map(Self.op).joined(separator: ","))]}"
        let answer: TxnAnswer = try call("/v3/kv/txn", body)
        var ranges: [[KeyValue]] = []
        for response in answer.responses ?? [] {
            if let range = response.response_range { ranges.append(try range.kvs?.map(Self.keyValue) ?? []) }
        }
        return TxnResult(
            succeeded: answer.succeeded ?? false, revision: Int64(answer.header?.revision ?? "") ?? 0, ranges: ranges)
    }

    /// A new lease of `ttl` seconds: its id and the TTL etcd granted.
    public func grantLease(ttl: Int) throws(EtcdError) -> (id: Int64, ttl: Int) {
        // "TTL" in capitals: a lowercase key is ignored, and the lease is 2 s.
        let answer: LeaseAnswer = try call("/v3/lease/grant", "{\"TTL\":\"\(ttl)\"}")
        guard let id = Int64(answer.ID ?? ""), let granted = Int(answer.TTL ?? "") else {
            throw EtcdError(nil, "lease grant", answer.error ?? "no lease in the answer")
        }
        return (id, granted)
    }

    /// Renews a lease once: the TTL it has now, or nil when it is gone. A caller counts the
    /// lease from when it sent this, not from the answer.
    public func keepAlive(_ id: Int64) throws(EtcdError) -> Int? {
        let answer: KeepAliveAnswer = try call("/v3/lease/keepalive", "{\"ID\":\"\(id)\"}")
        return (answer.result?.TTL).flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
    }

    /// Ends a lease (its keys go with it).
    public func revoke(_ id: Int64) throws(EtcdError) {
        let _: HeaderAnswer = try call("/v3/lease/revoke", "{\"ID\":\"\(id)\"}")
    }

    /// Each member's health: `/health` says true (a member with quorum), or why not.
    public func health() -> [(endpoint: EtcdEndpoint, healthy: Bool, why: String?)] {
        endpoints.map { endpoint in
            do throws(EtcdError) {
                let connection = try EtcdHTTP(endpoint, deadline: MonotonicClock.now + timeout)
                let deadline = MonotonicClock.now + timeout
                let status = try connection.request("/health", body: nil, deadline: deadline)
                let text = String(decoding: try connection.body(deadline: deadline), as: UTF8.self)
                let healthy = status == 200 && text.contains("\"true\"")
                return (endpoint, healthy, healthy ? nil : "answered \(status): \(text.prefix(100))")
            } catch {
                return (endpoint, false, error.message)
            }
        }
    }

    // MARK: - The calls

    /// POSTs `body` to `path` at each member in turn until one answers 200, within `timeout`.
    private func call<Answer: Decodable>(_ path: String, _ body: String) throws(EtcdError) -> Answer {
        let deadline = MonotonicClock.now + timeout
        var last = EtcdError(nil, path, "no endpoints")
        for attempt in 0..<endpoints.count {
            let index = (preferred + attempt) % endpoints.count
            // Each member gets its share of what is left, so that a hung one leaves time for the next.
            let share = MonotonicClock.now + (deadline - MonotonicClock.now) / Double(endpoints.count - attempt)
            do throws(EtcdError) {
                let connection = try EtcdHTTP(endpoints[index], deadline: share)
                let status = try connection.request(path, body: body, deadline: share)
                let bytes = try connection.body(deadline: share)
                guard status == 200 else {
                    throw EtcdError(
                        endpoints[index], path,
                        "answered \(status): \(String(decoding: bytes.prefix(200), as: UTF8.self))")
                }
                guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(bytes)) else {
                    throw EtcdError(
                        endpoints[index], path,
                        "an answer that is not its JSON: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
                }
                preferred = index
                return answer
            } catch {
                last = error
            }
        }
        throw last
    }

    // MARK: - JSON

    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
    static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    /// The end of the range of keys starting with `key`: its last byte plus one.
    static func prefixEnd(_ key: String) -> [UInt8] {
        var bytes = Array(key.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return bytes
            }
            bytes.removeLast()
        }
        return [0]
    }

    static func keyValue(_ kv: KVAnswer) throws(EtcdError) -> KeyValue {
        guard let key = Data(base64Encoded: kv.key ?? "") else { throw EtcdError(nil, "decode", "a key not in base64") }
        guard let value = Data(base64Encoded: kv.value ?? "") else {
            throw EtcdError(nil, "decode", "a value not in base64")
        }
        return KeyValue(
            key: String(decoding: key, as: UTF8.self), value: Array(value),
            createRevision: Int64(kv.create_revision ?? "") ?? 0, modRevision: Int64(kv.mod_revision ?? "") ?? 0,
            version: Int64(kv.version ?? "") ?? 0, lease: Int64(kv.lease ?? "") ?? 0)
    }

    private static func json(_ compare: Compare) -> String {
        switch compare {
        case let .createRevision(key, n):
            return
                "{\"key\":\"\(base64(key))\",\"target\":\"CREATE\",\"result\":\"EQUAL\",\"create_revision\":\"\(n)\"}"
        case let .modRevision(key, n):
            return "{\"key\":\"\(base64(key))\",\"target\":\"MOD\",\"result\":\"EQUAL\",\"mod_revision\":\"\(n)\"}"
        case let .value(key, value):
            return
                "{\"key\":\"\(base64(key))\",\"target\":\"VALUE\",\"result\":\"EQUAL\",\"value\":\"\(base64(value))\"}"
        }
    }

    private static func json(_ request: Request) -> String {
        switch request {
        case let .put(key, value, lease):
            return "{\"key\":\"\(base64(key))\",\"value\":\"\(base64(value))\""
                + (lease != 0 ? ",\"lease\":\"\(lease)\"}" : "}")
        case .delete(let key), .range(let key):
            return "{\"key\":\"\(base64(key))\"}"
        }
    }

    private static func op(_ request: Request) -> String {
        switch request {
        case .put: return "{\"request_put\":\(json(request))}"
        case .delete: return "{\"request_delete_range\":\(json(request))}"
        case .range: return "{\"request_range\":\(json(request))}"
        }
    }
}
