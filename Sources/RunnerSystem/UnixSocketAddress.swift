#if canImport(Glibc)
    import Glibc
#endif

extension sockaddr_un {
    /// The address of the Unix socket named by `bytes` (a path, or with a leading NUL an
    /// abstract name), NUL-padded; nil when they do not fit `sun_path` with its terminator.
    public init?(bytes: [UInt8]) {
        self.init()
        guard bytes.count < MemoryLayout.size(ofValue: sun_path) else { return nil }
        sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
    }
}
