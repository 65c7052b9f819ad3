#if canImport(Glibc)
    import Glibc
#endif

/// This host's name, as `gethostname(2)` gives it: what a revision's author, an operator and
/// a sender that names itself after its host are called.
public enum HostName {
    /// The name now.
    public static var current: String {
        var name = [UInt8](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        return String(decoding: name.prefix { $0 != 0 }, as: UTF8.self)
    }
}
