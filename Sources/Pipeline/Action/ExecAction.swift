import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// `{ kind = "exec", argv = { ... }, env = { ... }, timeout = 30, validate = false }`:
/// runs a command; with `validate = true` a non-zero exit rolls the batch back.
/// The command runs in the module's directory's parent environment, with
/// RUNNER_MODULE, RUNNER_MODULE_PATH and RUNNER_PATHS (newline-separated) set.
struct ExecAction: SyncAction {
    let argv: [String]
    let environment: [String: String]
    let timeout: Double
    let validates: Bool

    var name: String { "exec \(argv.joined(separator: " "))" }

    init(_ p: inout ActionParameters) throws(ConfigError) {
        guard let argv = try p.list("argv"), !argv.isEmpty else {
            throw p.error("'argv' is missing", hint: "argv = { \"/usr/sbin/nginx\", \"-t\" }")
        }
        self.argv = argv
        environment = try p.map("env") ?? [:]
        timeout = try p.seconds("timeout", default: 30)
        validates = try p.flag("validate", default: false)
    }

    func run(_ context: ActionContext) -> ActionResult {
        var env = environment
        env["RUNNER_MODULE"] = context.module.name
        env["RUNNER_MODULE_PATH"] = context.module.path
        env["RUNNER_PATHS"] = context.paths.joined(separator: "\n")
        let run = CommandRun(argv, environment: env, timeout: timeout)
        let outcome: ActionResult.Outcome = run.succeeded ? .ok : run.ending == .timedOut ? .timedOut : .failed
        let lastLine = run.output.split(separator: "\n").last.map { ": \($0)" } ?? ""
        let summary = run.succeeded ? "ok" : "\(run.describe(timeout: timeout))\(lastLine)"
        return ActionResult(
            name: name, outcome: outcome, summary: summary, exitStatus: run.exitStatus, output: run.output)
    }

    func problems() -> [String] {
        let program = argv[0]
        if program.contains("/") {
            return FileSystem.isExecutable(program) ? [] : ["\(program) is not an executable file"]
        }
        let path = (getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin").split(separator: ":")
        return path.contains { FileSystem.isExecutable("\($0)/\(program)") } ? [] : ["\(program) is not on PATH"]
    }
}
