// The JSON gateway's answers, as decoded: every field optional, since the gateway leaves out
// a field at its default (false, 0, empty), and int64s as the strings it sends.

/// A response header.
struct EtcdHeader: Decodable {
    var revision: String?
    var raft_term: String?
}

/// One key.
struct KVAnswer: Decodable {
    var key: String?
    var value: String?
    var create_revision: String?
    var mod_revision: String?
    var version: String?
    var lease: String?
}

/// `/v3/kv/range`.
struct RangeAnswer: Decodable {
    var header: EtcdHeader?
    var kvs: [KVAnswer]?
}

/// `/v3/kv/put`, `/v3/lease/revoke`: only the header matters.
struct HeaderAnswer: Decodable {
    var header: EtcdHeader?
}

/// `/v3/kv/txn`.
struct TxnAnswer: Decodable {
    struct Response: Decodable {
        var response_range: RangeAnswer?
    }
    var header: EtcdHeader?
    var succeeded: Bool?
    var responses: [Response]?
}

/// `/v3/lease/grant`.
struct LeaseAnswer: Decodable {
    var ID: String?
    var TTL: String?
    var error: String?
}

/// `/v3/lease/keepalive`: one result line.
struct KeepAliveAnswer: Decodable {
    struct Result: Decodable {
        var ID: String?
        var TTL: String?
    }
    var result: Result?
}

/// One line of `/v3/watch`.
struct WatchAnswer: Decodable {
    struct Event: Decodable {
        /// Absent for a PUT (the default); "DELETE" otherwise.
        var type: String?
        var kv: KVAnswer?
    }
    struct Result: Decodable {
        var header: EtcdHeader?
        var created: Bool?
        var canceled: Bool?
        var compact_revision: String?
        var cancel_reason: String?
        var events: [Event]?
    }
    var result: Result?
    var error: WatchError?

    struct WatchError: Decodable {
        var message: String?
    }
}
