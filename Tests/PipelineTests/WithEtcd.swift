import Pipeline
import TestSupport

/// Runs `body` against a real etcd of `members` members started for it in a temporary
/// directory, stopped and removed after it, with the members' endpoints.
func withEtcd(members: Int = 1, _ body: (TestEtcd, [EtcdEndpoint]) async throws -> Void) async throws {
    let dir = try TemporaryDirectory()
    let etcd = try await TestEtcd(directory: dir.path, members: members)
    defer {
        etcd.stop()
        dir.remove()
    }
    try await body(etcd, etcd.endpoints.compactMap(EtcdEndpoint.init))
}
