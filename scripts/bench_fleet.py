"""make bench, fan-out (imported by bench.py):

  fleet      one 100-file batch to 1, 4, 16, 64 and 100 receivers on 127.0.0.1: time from the
             last write until every receiver has all 100 files, and the sender's CPU time
             and peak RSS; runner run -> runner serve (one daemon, a module per receiver)
             vs lsyncd 2.2 with as many sync{} targets (default.rsync to an rsync daemon,
             tuned with TCP_NODELAY as in e2e), and the physical floor: a floor sender and
             receiver pair (../shared/bench/floor) per receiver
  identical  the sender's CPU for one 1 MiB edit to 1 and to 100 hosts holding the same file
"""
import os, shutil, subprocess, time

from bench import floor_binary, out, rss_kib, start_floor, start_logged, stop, wait_for


def cpu_seconds(pid):
    """utime + stime of a process and its reaped children, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid):
    """CPU time of a daemon and of its children, live or reaped (the receivers' work)."""
    total = cpu_seconds(pid)
    try:
        for child in open(f"/proc/{pid}/task/{pid}/children").read().split():
            total += tree_cpu_seconds(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def all_arrived(modules, count):
    return all(len(os.listdir(m)) >= count for m in modules)


def write_batch(src, n=100):
    for i in range(n):
        with open(os.path.join(src, f"pool{i:03}.conf"), "w") as f:
            f.write(f"[pool{i}]\nlisten = 127.0.0.1:{9000 + i}\nenv[APP_MODE] = functional\n" + "; x\n" * 30)


def big_file(src, edit=0):
    """A 1 MiB file; edit N writes "edit N" (64 bytes) into its middle (same size)."""
    path = os.path.join(src, "big.conf")
    if not edit:
        with open(path, "wb") as f:
            f.write(bytes((i * 7919) % 251 for i in range(1 << 20)))
        return
    with open(path, "r+b") as f:
        f.seek(1 << 19)
        f.write(f"edit {edit:04}".encode().ljust(64, b"."))


def edit_arrived(modules, edit):
    def has(m):
        try:
            with open(os.path.join(m, "big.conf"), "rb") as f:
                f.seek(1 << 19)
                return f.read(9) == f"edit {edit:04}".encode()
        except FileNotFoundError:
            return False
    return all(has(m) for m in modules)


def edits(src, modules, sender_pid, rounds=10):
    """`rounds` edits of the big file, each waited for at every receiver: the sender's CPU
    and the time per edit, and its peak RSS."""
    cpu, total = cpu_seconds(sender_pid), 0.0
    for edit in range(1, rounds + 1):
        big_file(src, edit)
        last = time.monotonic()
        if not wait_for(lambda: edit_arrived(modules, edit), 120):
            raise TimeoutError("not every receiver got the edit")
        total += time.monotonic() - last
    return total / rounds, (cpu_seconds(sender_pid) - cpu) / rounds, rss_kib(sender_pid), 0


def measure(src, modules, sender_pid, receiver_pid):
    cpu, receiver_cpu = cpu_seconds(sender_pid), tree_cpu_seconds(receiver_pid)
    write_batch(src)
    last = time.monotonic()
    if not wait_for(lambda: all_arrived(modules, 100), 120):
        raise TimeoutError("not every receiver got the batch")
    elapsed = time.monotonic() - last
    return elapsed, cpu_seconds(sender_pid) - cpu, rss_kib(sender_pid), tree_cpu_seconds(receiver_pid) - receiver_cpu


def ours(base, n, big=False):
    """One batch to n receivers of one `runner serve`; `big`: a 1 MiB file they all hold,
    then one edit of it (the delta each host gets is the same)."""
    src = os.path.join(base, "src")
    modules = [os.path.join(base, f"m{i}") for i in range(n)]
    for d in [src] + modules:
        os.makedirs(d)
    if big:
        big_file(src)
    with open(os.path.join(base, "receiver.lua"), "w") as f:
        # One daemon stands for 100 hosts: the sender opens all 100 sessions at once from
        # one address, which the flood limits would otherwise thin out.
        f.write('settings { listen = "127.0.0.1:0", max_connections = 200, max_startups = "200", '
                'per_source_startups = 200 }\n')
        for i, m in enumerate(modules):
            f.write(f'module "m{i}" {{ path = "{m}" }}\n')
    serve, listening = start_logged(["serve", os.path.join(base, "receiver.lua"), "--log-level", "notice"],
                                    os.path.join(base, "serve.log"), r"listening on 127\.0\.0\.1:(\d+)")
    try:
        port = int(listening.group(1))
        targets = ", ".join(f'"runner://127.0.0.1:{port}/m{i}"' for i in range(n))
        with open(os.path.join(base, "p.lua"), "w") as f:
            f.write(f'settings {{ state_dir = "{base}/state" }}\n'
                    f'pipeline "fleet" {{ source = "{src}", to = {{ {targets} }}, delay = 0, delete = true }}\n')
        run, _ = start_logged(["run", os.path.join(base, "p.lua"), "--log-level", "info"],
                              os.path.join(base, "run.log"), "ready")
        try:
            if big:
                return edits(src, modules, run.pid)
            return measure(src, modules, run.pid, serve.pid)
        finally:
            stop(run)
    finally:
        stop(serve)


def theirs(base, n, measured=None, max_processes=None, ready_timeout=60):
    """lsyncd with n sync{} targets to one rsync daemon, once its first sync of every target
    finished: `measured(src, modules, lsyncd_pid, rsyncd_pid)` (by default, one 100-file batch)."""
    measured = measured or measure
    src = os.path.join(base, "src")
    modules = [os.path.join(base, f"m{i}") for i in range(n)]
    for d in [src] + modules:
        os.makedirs(d)
    port = 19400 + os.getpid() % 500
    conf = os.path.join(base, "rsyncd.conf")
    with open(conf, "w") as f:
        f.write("use chroot = no\nsocket options = TCP_NODELAY\nmax connections = 0\n")
        for i, m in enumerate(modules):
            f.write(f"[m{i}]\npath = {m}\nread only = no\nuid = root\ngid = root\n")
    rsyncd = subprocess.Popen(["rsync", "--daemon", "--no-detach", f"--config={conf}", f"--port={port}", "--address=127.0.0.1"])
    try:
        wait_for(lambda: subprocess.run(["rsync", f"rsync://127.0.0.1:{port}/"], capture_output=True).returncode == 0, 10)
        lconf = os.path.join(base, "lsyncd.lua")
        with open(lconf, "w") as f:
            f.write(f'settings {{ nodaemon = true, logfile = "{base}/lsyncd.log", statusFile = "{base}/lsyncd.status", '
                    f'maxProcesses = {max_processes or n} }}\n')
            for i in range(n):
                f.write(f'sync {{ default.rsync, source = "{src}/", target = "rsync://127.0.0.1:{port}/m{i}/", delay = 0,\n'
                        f'  rsync = {{ archive = true, _extra = {{ "--sockopts=TCP_NODELAY" }} }} }}\n')
        lsyncd = subprocess.Popen(["lsyncd", lconf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            log = os.path.join(base, "lsyncd.log")
            # Each target's first sync ends with "Normal: Startup of SRC -> TARGET finished."
            if not wait_for(lambda: os.path.exists(log) and open(log).read().count(" finished.") >= n,
                            ready_timeout):
                raise TimeoutError("lsyncd did not finish its first sync of every target")
            return measured(src, modules, lsyncd.pid, rsyncd.pid)
        finally:
            stop(lsyncd)
    finally:
        stop(rsyncd)


def floor(base, n, binary, measured=None, spread=128):
    """A floor pair per receiver, ports `spread` apart per bench process; `measured(src,
    modules)` (by default, one 100-file batch's time)."""
    src = os.path.join(base, "src")
    modules = [os.path.join(base, f"m{i}") for i in range(n)]
    for d in [src] + modules:
        os.makedirs(d)
    pairs = []
    try:
        # Below the ephemeral ports (32768 and up), which the bench's own connections take.
        for i, m in enumerate(modules):
            pairs.append(start_floor(binary, 21000 + os.getpid() % (10240 // spread) * spread + i, src, m))
        if measured:
            return measured(src, modules)
        t, _, _, _ = measure(src, modules, os.getpid(), os.getpid())
        return t
    finally:
        for recv, send in pairs:
            stop(send)
            stop(recv)


INSTANCES = "/proc/sys/fs/inotify/max_user_instances"


def bench_fleet(work, sizes=(1, 4, 16, 64, 100), peers=True):
    """Trees are removed only at the end: ext4 without a journal scans past inodes freed in
    the last seconds when it allocates new ones, so a removal would slow the next run. Each
    floor sender is an inotify instance: the limit (128 by default) is raised for the run."""
    old_instances = open(INSTANCES).read().strip()
    with open(INSTANCES, "w") as f:
        f.write("1024")
    try:
        fleet_sizes(work, sizes, peers)
        identical_hosts(work)
    finally:
        with open(INSTANCES, "w") as f:
            f.write(old_instances)


def identical_hosts(work):
    """The sender's CPU per 1 MiB edit (ten of them) to 1 host and to 100 that hold the same
    file: the goal is 100 identical hosts at <= 1.5x one host's (one delta per group)."""
    cpu = {}
    for n in (1, 100):
        t, cpu[n], rss, _ = ours(os.path.join(work, f"fleet-identical-{n}"), n, big=True)
        out(f"fleet.identical.{n}.seconds_per_edit", f"{t:.3f}")
        out(f"fleet.identical.{n}.sender_cpu_seconds_per_edit", f"{cpu[n]:.4f}")
        out(f"fleet.identical.{n}.sender_peak_rss_kib", rss)
    out("fleet.identical.ratio.cpu_100_vs_1", f"{cpu[100] / max(cpu[1], 0.001):.1f}")


def fleet_sizes(work, sizes, peers):
    first = None
    floor_bin = floor_binary(work) if peers else None
    for n in sizes:
        t, cpu, rss, rcpu = ours(os.path.join(work, f"fleet-runner-{n}"), n)
        first = first or t
        out(f"fleet.{n}.runner.seconds", f"{t:.3f}")
        out(f"fleet.{n}.runner.sender_cpu_seconds", f"{cpu:.3f}")
        out(f"fleet.{n}.runner.sender_peak_rss_kib", rss)
        out(f"fleet.{n}.runner.receivers_cpu_seconds", f"{rcpu:.3f}")
        out(f"fleet.{n}.runner.ratio.seconds_vs_1", f"{t / first:.2f}")
        if peers and shutil.which("lsyncd"):
            lt, lcpu, lrss, lrcpu = theirs(os.path.join(work, f"fleet-lsyncd-{n}"), n)
            out(f"fleet.{n}.lsyncd.seconds", f"{lt:.3f}")
            out(f"fleet.{n}.lsyncd.sender_cpu_seconds", f"{lcpu:.3f}")
            out(f"fleet.{n}.lsyncd.sender_peak_rss_kib", lrss)
            out(f"fleet.{n}.lsyncd.receivers_cpu_seconds", f"{lrcpu:.3f}")
            out(f"fleet.{n}.ratio.seconds_vs_lsyncd", f"{t / lt:.2f}")
        if floor_bin:
            ft = floor(os.path.join(work, f"fleet-floor-{n}"), n, floor_bin)
            out(f"fleet.{n}.floor.seconds", f"{ft:.3f}")
            out(f"fleet.{n}.ratio.seconds_vs_floor", f"{t / ft:.2f}")
