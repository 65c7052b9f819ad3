#if canImport(Glibc)
    import Glibc
#endif

/// Users and groups by name and by id, as this host's NSS knows them (`/etc/passwd`,
/// `/etc/group`): owners travel between hosts by name, as `rsync -a` sends them.
public enum UserDatabase {
    /// The name of user `uid`, or nil when this host has none.
    public static func userName(_ uid: UInt32) -> String? {
        user { pw, buffer, result in getpwuid_r(uid_t(uid), &pw, buffer.baseAddress!, buffer.count, &result) }?.name
    }

    /// The id of the user `name`, or nil.
    public static func uid(named name: String) -> UInt32? {
        user { pw, buffer, result in getpwnam_r(name, &pw, buffer.baseAddress!, buffer.count, &result) }?.id
    }

    /// The name of group `gid`, or nil.
    public static func groupName(_ gid: UInt32) -> String? {
        group { gr, buffer, result in getgrgid_r(gid_t(gid), &gr, buffer.baseAddress!, buffer.count, &result) }?.name
    }

    /// The id of the group `name`, or nil.
    public static func gid(named name: String) -> UInt32? {
        group { gr, buffer, result in getgrnam_r(name, &gr, buffer.baseAddress!, buffer.count, &result) }?.id
    }

    /// A user given by name or by number (`"www-data"`, `"33"`), or nil when neither.
    public static func uid(parsing text: String) -> UInt32? {
        uid(named: text) ?? UInt32(text).flatMap { $0 == FileInfo.unchanged ? nil : $0 }
    }

    /// A group given by name or by number, or nil.
    public static func gid(parsing text: String) -> UInt32? {
        gid(named: text) ?? UInt32(text).flatMap { $0 == FileInfo.unchanged ? nil : $0 }
    }

    private static func user(
        _ call: (inout passwd, UnsafeMutableBufferPointer<CChar>, inout UnsafeMutablePointer<passwd>?) -> Int32
    ) -> (name: String, id: UInt32)? {
        withEntry(passwd(), call) { (String(cString: $0.pw_name), UInt32($0.pw_uid)) }
    }

    private static func group(
        _ call: (inout group, UnsafeMutableBufferPointer<CChar>, inout UnsafeMutablePointer<group>?) -> Int32
    ) -> (name: String, id: UInt32)? {
        withEntry(Glibc.group(), call) { (String(cString: $0.gr_name), UInt32($0.gr_gid)) }
    }

    /// Runs a `get*_r` call with a buffer that grows until the entry fits (a group of many
    /// members can be large), and reads the entry before the buffer its strings point into goes.
    private static func withEntry<Entry>(
        _ empty: Entry,
        _ call: (inout Entry, UnsafeMutableBufferPointer<CChar>, inout UnsafeMutablePointer<Entry>?) -> Int32,
        _ read: (Entry) -> (name: String, id: UInt32)
    ) -> (name: String, id: UInt32)? {
        var size = 1024
        while size <= 1 << 22 {
            var entry = empty
            var result: UnsafeMutablePointer<Entry>?
            let buffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: size)
            defer { buffer.deallocate() }
            let code = call(&entry, buffer, &result)
            if code == ERANGE {
                size *= 4
                continue
            }
            guard code == 0, result != nil else { return nil }
            return read(entry)
        }
        return nil
    }
}
