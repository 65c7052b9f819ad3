/// A target for a test's `module` directory: `file://` to it, or `runner://` to a
/// `runner serve` on 127.0.0.1 serving it as module "fpm" (the daemon is returned, to stop).
public func moduleTarget(_ scheme: String, in dir: TemporaryDirectory) async throws -> (
    uri: String, daemon: ServeProcess?
) {
    guard scheme == "runner" else { return ("file://\(dir.at("module"))", nil) }
    try dir.write("receiver.lua", "settings { listen = \"127.0.0.1:0\" }\nmodule \"fpm\" { path = \"module\" }\n")
    let daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path)
    return ("runner://127.0.0.1:\(daemon.port)/fpm", daemon)
}
