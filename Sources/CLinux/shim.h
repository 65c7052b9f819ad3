#ifndef RUNNER_CLINUX_SHIM_H
#define RUNNER_CLINUX_SHIM_H
// Linux interfaces Glibc's Swift module leaves out: signalfd, posix_spawn's closefrom,
// mallopt, and openat2, which glibc 2.36 has no wrapper for (a variadic syscall() cannot
// be called from Swift).
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <sys/signalfd.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <sys/socket.h>

// glibc 2.34+ has it; its header shows it only under _GNU_SOURCE, which Swift's Glibc
// module is built without.
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
// Likewise: a pipe made close-on-exec atomically (a fork between pipe() and fcntl() would leak it).
extern int pipe2(int pipefd[2], int flags);
// Likewise: a connection taken close-on-exec atomically.
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);
// Likewise: an anonymous file in memory (content not written to disk yet, read as a file).
extern int memfd_create(const char *name, unsigned int flags);

/// openat2(2) resolving strictly beneath `dirfd`, never through a symlink or `..`
/// out of it: -1 with errno set on failure (ENOSYS on kernels before 5.6).
static inline int runner_openat_beneath(int dirfd, const char *path, int flags, unsigned int mode) {
    struct open_how how = {
        .flags = (unsigned long long)flags,
        .mode = (flags & O_CREAT) ? mode : 0,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/// The uid of a Unix socket's peer (SO_PEERCRED; struct ucred needs _GNU_SOURCE), or -1.
static inline long runner_peer_uid(int fd) {
    struct { int pid; unsigned int uid; unsigned int gid; } cred;
    socklen_t length = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return -1;
    return (long)cred.uid;
}

/// FICLONE: `dst` becomes a copy of `src` sharing its extents (xfs, btrfs): 0, or -1
/// with errno EOPNOTSUPP, EXDEV or EINVAL where the file system cannot (ext4, tmpfs).
static inline int runner_clone_file(int dst, int src) {
    return ioctl(dst, FICLONE, src);
}

/// renameat2(2) with RENAME_NOREPLACE: fails with EEXIST rather than replace what is
/// there (EINVAL where the file system cannot tell).
static inline int runner_rename_noreplace(int from_dir, const char *from, int to_dir, const char *to) {
    return (int)syscall(SYS_renameat2, from_dir, from, to_dir, to, RENAME_NOREPLACE);
}

/// copy_file_range(2) (glibc shows it only under _GNU_SOURCE): bytes copied in the
/// kernel from `in` at `in_offset` to `out` at `out_offset`, or -1 with errno set.
static inline long runner_copy_file_range(int in, long long in_offset, int out, long long out_offset, unsigned long length) {
    loff_t a = in_offset, b = out_offset;
    return (long)syscall(SYS_copy_file_range, in, &a, out, &b, length, 0u);
}
#endif
