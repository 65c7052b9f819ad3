extension ConfigSchema {
    /// `settings { }`: both a sender's and a receiver's.
    public static let settings = Table(
        name: "settings", doc: "Process-wide settings, of a sender's script or a receiver's.",
        keys: [
            Key(
                "log", .string, "\"info\"", example: "log = \"debug\"",
                "Log level: trace, debug, info, notice, warning, error or critical."),
            Key(
                "state_dir", .string, "$XDG_STATE_HOME/runner, else /var/lib/runner (root) or ~/.local/state/runner",
                example: "state_dir = \"/var/lib/runner\"",
                "Where a sender keeps revisions, the content store, rollout state, history and control.sock."),
            Key(
                "status", .string, example: "status = \"127.0.0.1:9873\"",
                "Address (or a port, of 127.0.0.1) answering / (a page), /status, /metrics and /healthz."),
            Key(
                "metrics_file", .string, example: "metrics_file = \"/var/lib/node_exporter/runner.prom\"",
                "Also write the metrics to this file, for node-exporter's textfile collector."),
            Key(
                "behind_limit", .number, "300", example: "behind_limit = 600",
                "Seconds a host may be behind before /healthz says 503."),
            Key(
                "stop_timeout", .number, "10", example: "stop_timeout = 30",
                "Seconds a stop (SIGTERM) may take to send what is pending."),
            Key(
                "coordination", .table,
                example: "coordination = { etcd = { \"http://127.0.0.1:2379\" }, name = \"sender-a\" }",
                "Sender: lead or stand by through etcd (see coordination), with another sender of this script."),
            Key(
                "listen", .string, "\"0.0.0.0:8730\"", example: "listen = \"10.0.0.5:8730\"",
                "Receiver: the address runner serve listens on (port 0: the kernel picks one, logged); a sender with dial:// targets: where those receivers dial in."
            ),
            Key(
                "dial_secrets", .string, example: "dial_secrets = \"/etc/runner/dial.secrets\"",
                "Sender: a name:secret file, mode 0600, one line per receiver name that dials in (dial://NAME/module)."
            ),
            Key(
                "max_connections", .number, "50", example: "max_connections = 200",
                "Receiver: the most connections served at once."),
            Key(
                "max_startups", .string, "\"10:30:100\"", example: "max_startups = \"20:50:200\"",
                "Listeners (runner serve, a sender's dial-in): connections not yet authenticated, as sshd's MaxStartups start:rate:full (past start, rate% dropped at random, rising to all at full), or N."
            ),
            Key(
                "per_source_startups", .number, "10", example: "per_source_startups = 4",
                "Listeners: connections not yet authenticated from one address."),
            Key(
                "handshake_timeout", .number, "5", example: "handshake_timeout = 3",
                "Listeners: seconds a new connection has for its hello (or dial) and auth, in all (sshd's LoginGraceTime)."
            ),
            Key(
                "idle_timeout", .number, "300", example: "idle_timeout = 600",
                "Receiver: seconds a connection may stay silent between requests."),
        ])

    /// `group "NAME" { targets..., vars = { } }`.
    public static let group = Table(
        name: "group \"NAME\"",
        doc: "Hosts that get the same values: target URIs as list items, then these keys.",
        keys: [
            Key(
                "vars", .table, example: "vars = { APP_MODE = \"functional\" }",
                "Values a template's {{ NAME }} takes for these hosts (strings, numbers, booleans)."),
            Key(
                "approve", .boolean, "false", example: "approve = true",
                "Every revision waits for runner approve before it reaches this group."),
        ])

    /// `host "URI" { vars = { } }`.
    public static let host = Table(
        name: "host \"URI\"", doc: "One target's own values, which beat its group's.",
        keys: [Key("vars", .table, example: "vars = { PORT = 9001 }", "Values for this host alone.")])

    /// `pipeline "NAME" { }`.
    public static let pipeline = Table(
        name: "pipeline \"NAME\"", doc: "What is watched, what is ignored, and where each change goes.",
        keys: [
            Key(
                "source", .string, example: "source = \"/etc/php/8.2/fpm/pool.d\"",
                "The watched directory (or one file); relative to the script. Required."),
            Key(
                "to", .strings, example: "to = { \"functional\", \"regression\" }",
                "Group names or target URIs: runner://, ssh://, rsync://, file://."),
            Key(
                "ignore", .either([.strings, .function, .table]), example: "ignore = { tempfiles.all, \"*.bak\" }",
                "gitignore-style rules, rule sets of plugins, or functions (path, is_dir) -> ignored."),
            Key(
                "delay", .number, "0.2", example: "delay = 0.5",
                "Seconds of quiet before a batch is cut (a burst waits for its writer's pace)."),
            Key(
                "max_delay", .number, "max(10, 10 × delay)", example: "max_delay = 30",
                "A batch is cut at the latest this long after its first change."),
            Key(
                "scan_interval", .number, "10", example: "scan_interval = 60",
                "Seconds between scans of directories the watch limit left unwatched."),
            Key(
                "delete", .boolean, "false", example: "delete = true",
                "Delete on the hosts what the source no longer has."),
            Key(
                "auth", .table, example: "auth = { user = \"sync\", secret_file = \"/etc/runner/sync.secret\" }",
                "Credentials for runner:// and rsync:// targets (the secret file is 0600)."),
            Key(
                "ssh", .table, example: "ssh = { command = \"ssh -i /etc/runner/key\" }",
                "How ssh:// targets are reached."),
            Key(
                "render", .either([.strings, .function]), example: "render = { \"*.conf\" }",
                "Templates: files rendered with each host's vars, or a function (path, text, vars) -> text."),
            Key(
                "rollout", .either([.string, .table]), "\"all\"", example: "rollout = \"canary\"",
                "\"all\", \"canary\" (one host of each group first), or a table."),
            Key(
                "max_parallel", .number, "16", example: "max_parallel = 64", "Hosts served at once (a sliding window)."),
            Key(
                "timeout", .number, "10", example: "timeout = 30",
                "Seconds each step with a host (connect, handshake, each read and write) may wait."),
            Key(
                "retry", .table, "{ initial = 1, max = 60 }", example: "retry = { max = 300 }",
                "Backoff of a failed host."),
            Key(
                "keep_revisions", .number, "100", example: "keep_revisions = 500",
                "Revisions kept besides those a group or a host points at."),
            Key(
                "approve", .either([.boolean, .strings]), "false", example: "approve = { \"regression\" }",
                "Groups (or true: all) whose revisions wait for runner approve."),
            Key(
                "guard", .table, example: "guard = { max_deleted = \"20%\" }",
                "A revision changing more than this waits for approval."),
            Key(
                "secret", .strings, example: "secret = { \"*.env\" }",
                "Files whose content no diff, log or notification shows."),
            Key(
                "notify", .table, example: "notify = { webhook = \"http://127.0.0.1:9090/runner\" }",
                "A JSON POST per group per revision."),
            Key(
                "numeric_ids", .boolean, "false", example: "numeric_ids = true",
                "Owners go as numbers, not names mapped on the receiver (rsync's --numeric-ids)."),
            Key(
                "check", .function, example: "check = function(batch) return true end",
                "Before a batch goes: false (and why) holds it; retried with backoff."),
            Key(
                "after", .function, example: "after = function(host, result) end",
                "After each host's batch: its result."),
            Key(
                "on_group", .function, example: "on_group = function(group, revision, outcome) end",
                "Once per group per revision: the notification's document."),
        ])

    /// `auth = { }` of a pipeline.
    public static let auth = Table(
        name: "auth", doc: "Credentials of a pipeline for runner:// and rsync:// targets.",
        keys: [
            Key("user", .string, example: "user = \"sync\"", "The user the receiver's auth_users names. Required."),
            Key(
                "secret_file", .string, example: "secret_file = \"/etc/runner/sync.secret\"",
                "A file (mode 0600) holding only the secret. Required."),
        ])

    /// `ssh = { }` of a pipeline.
    public static let ssh = Table(
        name: "ssh", doc: "How a pipeline reaches ssh:// targets.",
        keys: [
            Key(
                "command", .strings, "\"ssh\"", example: "command = { \"ssh\", \"-i\", \"/etc/runner/key\" }",
                "The ssh command (a string is split at spaces)."),
            Key("runner", .string, "\"runner\"", example: "runner = \"/usr/bin/runner\"", "runner on the far side."),
            Key(
                "receiver", .string, "\"/etc/runner/receiver.lua\"", example: "receiver = \"/etc/runner/r.lua\"",
                "The receiver script on the far side."),
        ])

    /// `retry = { }` of a pipeline.
    public static let retry = Table(
        name: "retry", doc: "When a failed host is tried again: doubling from initial to max.",
        keys: [
            Key("initial", .number, "1", example: "initial = 2", "Seconds before the first retry."),
            Key("max", .number, "60", example: "max = 300", "The longest wait between attempts."),
        ])

    /// `rollout = { }` of a pipeline.
    public static let rollout = Table(
        name: "rollout", doc: "How a revision rolls out across each group (\"canary\" is { canary = 1 }).",
        keys: [
            Key("canary", .number, "1", example: "canary = 2", "Hosts of each group that take a revision first."),
            Key(
                "max_failures", .number, "0", example: "max_failures = 1",
                "Refusals past the canaries a group takes before it halts."),
            Key("pause", .number, "0", example: "pause = 30", "Seconds between the canaries and the rest."),
        ])

    /// `guard = { }` of a pipeline.
    public static let massChangeGuard = Table(
        name: "guard", doc: "A revision over either limit waits for approval, with the counts in the reason.",
        keys: [
            Key(
                "max_deleted", .either([.string, .number]), example: "max_deleted = \"20%\"",
                "Files deleted: a count, or a share of the tree (\"20%\")."),
            Key(
                "max_changed", .either([.string, .number]), example: "max_changed = \"50%\"",
                "Files added, changed or deleted: a count or a share."),
        ])

    /// `coordination = { }` of a sender's settings.
    public static let coordination = Table(
        name: "coordination",
        doc:
            "Senders that share the pipelines: the one holding a pipeline's leader key in etcd pushes, the others stand by.",
        keys: [
            Key(
                "etcd", .strings, example: "etcd = { \"http://etcd1:2379\", \"http://etcd2:2379\" }",
                "The etcd members' JSON gateways, http://host[:port]. Required."),
            Key(
                "name", .string, "this host's name", example: "name = \"sender-a\"",
                "This sender's name (letters, digits, . - _), shown as the leader."),
            Key(
                "lease", .number, "10", example: "lease = 15",
                "Seconds of the leader's lease (2 to 3600): a standby takes over within it and 2 s."),
            Key(
                "peers", .table,
                example:
                    "peers = { [\"sender-a\"] = \"runner://10.0.0.1:8730/fpm-source\", [\"sender-b\"] = \"runner://10.0.0.2:8730/fpm-source\" }",
                "Each sender's source as a runner:// or ssh:// module, by name: the leader sends its source to the others', and no revision is approved before they hold it."
            ),
        ])

    /// `notify = { }` of a pipeline.
    public static let notify = Table(
        name: "notify", doc: "One JSON document per group per revision, POSTed with retries, never blocking.",
        keys: [
            Key("webhook", .string, example: "webhook = \"http://127.0.0.1:9090/runner\"", "An http:// URL. Required."),
            Key(
                "on", .strings, "all four", example: "on = { \"held\", \"failed\" }",
                "Events sent: applied, failed, held, waiting."),
        ])
}
