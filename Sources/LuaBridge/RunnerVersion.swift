/// The version runner reports (`runner --version`, `runner.version` in Lua).
public enum RunnerVersion {
    /// The version string.
    public static let current = "0.1.0"
}
