extension ConfigSchema {
    /// `module "NAME" { }` of a receiver.
    public static let module = Table(
        name: "module \"NAME\"", doc: "A served directory, who may push to it, and what runs after each batch.",
        keys: [
            Key(
                "path", .string, example: "path = \"/etc/php/8.2/fpm/pool.d\"",
                "The served directory (batches are staged beside it, on the same file system). Required."),
            Key(
                "auth_users", .strings, example: "auth_users = { \"sync\" }",
                "Users who may push (HMAC challenge); none: any sender the address rules let in."),
            Key(
                "secrets", .string, example: "secrets = \"/etc/runner/secrets\"",
                "A user:secret file, mode 0600, for auth_users."),
            Key(
                "hosts_allow", .strings, example: "hosts_allow = { \"10.0.0.0/8\" }",
                "Addresses or CIDR blocks allowed to connect; none: all."),
            Key(
                "hosts_deny", .strings, example: "hosts_deny = { \"10.0.9.0/24\" }",
                "Addresses or CIDR blocks refused."),
            Key("read_only", .boolean, "false", example: "read_only = true", "Refuse every batch."),
            Key(
                "fsync", .boolean, "false", example: "fsync = true",
                "Sync each commit to disk: a batch survives a power loss, at about 1 ms."),
            Key(
                "on_sync", .table, example: "on_sync = { phpfpm.reload { service = \"php8.2-fpm\" } }",
                "Actions after each batch, in order: action tables or Lua functions; a validating one that fails rolls the batch back."
            ),
            Key(
                "on_sync_when", .string, "\"changed\"", example: "on_sync_when = \"always\"",
                "\"changed\": after a batch that changed content, a mode, an owner, a link or an entry; \"always\"."),
            Key(
                "function_timeout", .number, "30", example: "function_timeout = 60",
                "Seconds a Lua function of on_sync may run."),
            Key(
                "symlinks", .string, "\"safe\"", example: "symlinks = \"refuse\"",
                "\"safe\": links that stay inside the module; \"keep\": any; \"refuse\": none."),
            Key(
                "owner", .string, example: "owner = \"root\"",
                "Every entry's user, whatever was sent (rsyncd's uid); a name or a number."),
            Key(
                "group", .string, example: "group = \"www-data\"",
                "Every entry's group, whatever was sent (rsyncd's gid); a name or a number."),
            Key(
                "upstream", .table,
                example:
                    "upstream = { url = \"runner://sender.example:8731/php-env\", name = \"web-f1\", secret_file = \"/etc/runner/web-f1.secret\" }",
                "Dial the sender instead of waiting for it (see upstream): for a host the sender cannot reach."),
        ])

    /// `upstream = { }` of a module.
    public static let upstream = Table(
        name: "upstream",
        doc:
            "The sender a module dials, with backoff, and serves over that connection (both ends prove one secret).",
        keys: [
            Key(
                "url", .string, example: "url = \"runner://sender.example:8731/php-env\"",
                "runner://HOST:PORT/PIPELINE: the sender's listen address and the pipeline that lists this module. Required."
            ),
            Key(
                "name", .string, example: "name = \"web-f1\"",
                "The name this module dials as: the sender lists it as dial://NAME/MODULE. Required."),
            Key(
                "secret_file", .string, example: "secret_file = \"/etc/runner/web-f1.secret\"",
                "A file, mode 0600, holding the name's secret (the sender's dial_secrets has NAME:secret). Required."),
        ])

    /// `runner.exec { }`: `{ kind = "exec" }`.
    public static let exec = Table(
        name: "runner.exec { }",
        doc:
            "Runs a command after a batch, with RUNNER_MODULE, RUNNER_MODULE_PATH and RUNNER_PATHS set.",
        keys: [
            Key(
                "argv", .strings, example: "argv = { \"/usr/sbin/nginx\", \"-t\" }",
                "The command and its arguments (no shell). Required."),
            Key("env", .table, example: "env = { LANG = \"C\" }", "More environment variables."),
            Key("timeout", .number, "30", example: "timeout = 60", "Seconds before it is killed (and fails)."),
            Key(
                "validate", .boolean, "false", example: "validate = true",
                "A non-zero exit rolls the batch back."),
        ])

    /// `runner.signal { }`: `{ kind = "signal" }`.
    public static let signal = Table(
        name: "runner.signal { }", doc: "Signals the process whose pid a file holds (read at each batch).",
        keys: [
            Key("pidfile", .string, example: "pidfile = \"/run/nginx.pid\"", "The pid file. Required."),
            Key("signal", .string, "\"HUP\"", example: "signal = \"USR1\"", "The signal, by name."),
        ])

    /// `phpfpm.reload { }`: `{ kind = "phpfpm.reload" }`.
    public static let phpfpmReload = Table(
        name: "phpfpm.reload { }",
        doc:
            "php-fpm -t with the running master's binary and config (a failure rolls back), one SIGUSR2, then a FastCGI request.",
        keys: [
            Key(
                "service", .string, example: "service = \"php8.2-fpm\"",
                "A Debian php-fpm service: fills in binary, config and pidfile."),
            Key("binary", .string, example: "binary = \"/usr/sbin/php-fpm8.2\"", "The php-fpm binary."),
            Key(
                "config", .string, example: "config = \"/etc/php/8.2/fpm/php-fpm.conf\"",
                "The --fpm-config file."),
            Key(
                "pidfile", .string, example: "pidfile = \"/run/php/php8.2-fpm.pid\"",
                "The master's pid file. Required (or service)."),
            Key(
                "check_address", .string, example: "check_address = \"127.0.0.1:9000\"",
                "A pool's host:port or unix socket, asked after the reload."),
            Key(
                "check_script", .string, example: "check_script = \"/ping\"",
                "The pool's ping.path or a PHP file to request there."),
            Key("args", .strings, example: "args = { \"-R\" }", "More php-fpm arguments."),
            Key("timeout", .number, "10", example: "timeout = 20", "Seconds for each step."),
        ])
}
