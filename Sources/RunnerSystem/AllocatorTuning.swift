import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// glibc malloc's settings for a process that serves many hosts from threads of their own.
public enum AllocatorTuning {
    /// Blocks of 64 KiB and more (a session's buffers, a file's read buffer) are mapped for
    /// themselves and unmapped when freed. By default glibc raises that threshold to the
    /// largest block freed so far, after which such blocks come from the freeing thread's
    /// arena and stay there: a sender with 100 hosts kept 3 MiB per host that way (418 MB
    /// peak in the bench), 0.2 MiB with the threshold fixed.
    public static func apply() {
        _ = mallopt(M_MMAP_THRESHOLD, 64 << 10)
    }

    /// Returns the heap's free pages to the system (glibc keeps what a burst freed in its
    /// arenas: 4 of a sender's 10 MB after 20,000 files). For a process that just went idle.
    public static func giveBackFreeMemory() {
        _ = malloc_trim(0)
    }
}
