/// A module as a receiver serves it: its configuration and its `on_sync` actions, built
/// and checked once when the script loads (a bad parameter is a configuration error with
/// the module's line), not again for every connection.
public struct ServedModule {
    /// The module's configuration.
    public let module: ReceiverModule
    /// Its `on_sync`, ready to run.
    let actions: [any SyncAction]

    /// Builds the module's actions; `hooks` runs its Lua functions.
    public init(_ module: ReceiverModule, hooks: ActionHooks?) throws(ConfigError) {
        self.module = module
        actions = try ModuleActions.make(module, hooks: hooks)
    }

    /// One line per action, for `--dry-run` and `runner check`.
    public var actionLines: [String] { ModuleActions.describe(actions) }

    /// What is missing on this host for the actions to work (a binary, a pid file), one line each.
    public var problems: [String] {
        actions.flatMap { a in a.problems().map { "module '\(module.name)': \(a.name): \($0)" } }
    }
}
