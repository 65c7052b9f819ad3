"""make bench, a million files (imported by bench.py):

  million    1,000,000 files of 1 to 64 bytes in 100,000 directories on tmpfs (/dev/shm, so
             that disks do not decide): the watch (time until armed, RSS) beside
             inotifywait -r; the initial sync to an empty file:// target (time, peak RSS)
             beside rsync -a; the initial sync to runner serve on 127.0.0.1 (time, the
             sender's peak RSS, the receiver's: the daemon and its session), then a resync of
             the module, up to date, by a sender without state, each beside rsync -a to an
             rsync daemon (the client's and the daemon's); and what a host that is down holds
             while 100,000 files change. Peak RSS is GNU time's: the process and every child
             it reaped (rsync's receiver, a daemon's session); wait4 from this script would
             report at least the script's own RSS, which a child has until its exec.
             fs.inotify.max_user_watches is raised for the run and put back. MILLION_DIRS
             scales the tree (10 files per directory).
"""
import os, re, shutil, signal, subprocess, tempfile, time

from bench import ENV, RUNNER, Lines, out, rss_now_kib, timed, wait_for

WATCHES = "/proc/sys/fs/inotify/max_user_watches"
DIRS = int(os.environ.get("MILLION_DIRS", "100000"))


def make_million(root, dirs=100_000, per_dir=10):
    payload = b"listen = 127.0.0.1:9000\nenv[APP_MODE] = functional\n"
    for a in range(dirs // 1000):
        for b in range(1000):
            d = f"{root}/d{a:03}/e{b:03}"
            os.makedirs(d)
            for c in range(per_dir):
                fd = os.open(f"{d}/pool{c}.conf", os.O_WRONLY | os.O_CREAT, 0o644)
                os.write(fd, payload[: 1 + (a * 7 + b + c) % 64])
                os.close(fd)


def start_timed(argv, **kw):
    """Starts a daemon under GNU time; `stop_timed` ends it and tells its peak RSS."""
    fd, rss_file = tempfile.mkstemp(prefix="runner-bench-rss.")
    os.close(fd)
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss_file, *argv], **kw)
    p.rss_file = rss_file
    return p


def stop_timed(p):
    """SIGTERM to the daemon (GNU time's child); its peak RSS in KiB, with the children it reaped."""
    for child in open(f"/proc/{p.pid}/task/{p.pid}/children").read().split():
        os.kill(int(child), signal.SIGTERM)
    p.wait()
    rss = int(open(p.rss_file).read().split()[-1])
    os.unlink(p.rss_file)
    return rss


def same_tree(a, b):
    return subprocess.run(["diff", "-r", "-q", a, b], capture_output=True).returncode == 0


def script(base, source, to, extra=""):
    path = f"{base}/m.lua"
    with open(path, "w") as f:
        f.write(f'settings {{ state_dir = "{base}/state" }}\n'
                f'pipeline "m" {{ source = "{source}", to = {{ "{to}" }}, delete = true, delay = 0, {extra} }}\n')
    return path


def watch(base, src):
    t0 = time.monotonic()
    p = subprocess.Popen([RUNNER, "run", script(base, src, f"file://{base}/never"), "--dry-run", "--log-level", "info"],
                         env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    Lines(p.stderr).until(r"\bwatching\b", 300)
    ours = time.monotonic() - t0, rss_now_kib(p.pid)
    p.kill()
    p.wait()
    t0 = time.monotonic()
    p = subprocess.Popen(["inotifywait", "-r", "-m", src], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    Lines(p.stderr).until(r"Watches established", 300)
    theirs = time.monotonic() - t0, rss_now_kib(p.pid)
    p.kill()
    p.wait()
    out("million.watch.runner.seconds", f"{ours[0]:.2f}")
    out("million.watch.runner.rss_kib", ours[1])
    out("million.watch.inotifywait.seconds", f"{theirs[0]:.2f}")
    out("million.watch.inotifywait.rss_kib", theirs[1])
    out("million.watch.ratio.seconds", f"{ours[0] / theirs[0]:.2f}")


def local_sync(base, src):
    dst = f"{base}/dst"
    t, rss, _ = timed([RUNNER, "run", script(base, src, f"file://{dst}"), "--once", "--log-level", "warning"], env=ENV)
    ok = same_tree(src, dst)
    shutil.rmtree(dst)
    rt, rrss, _ = timed(["rsync", "-a", f"{src}/", f"{base}/rsync-dst/"])
    shutil.rmtree(f"{base}/rsync-dst")
    out("million.file.runner.seconds", f"{t:.2f}")
    out("million.file.runner.peak_rss_kib", rss)
    out("million.file.runner.complete", ok)
    out("million.file.rsync.seconds", f"{rt:.2f}")
    out("million.file.rsync.peak_rss_kib", rrss)
    out("million.file.ratio.seconds", f"{t / rt:.2f}")
    out("million.file.ratio.rss", f"{rss / rrss:.2f}")


def serve(base, module):
    """`runner serve` on one module, under GNU time; its port."""
    with open(f"{base}/receiver.lua", "w") as f:
        f.write(f'settings {{ listen = "127.0.0.1:0" }}\nmodule "m" {{ path = "{module}" }}\n')
    daemon = start_timed([RUNNER, "serve", f"{base}/receiver.lua", "--log-level", "notice"], env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    daemon.port = int(re.search(r":(\d+)$", Lines(daemon.stderr).until(r"listening on 127\.0\.0\.1:\d+", 30)).group(1))
    return daemon


def rsync_daemon(base, module):
    port = 19900 + os.getpid() % 90
    with open(f"{base}/rsyncd.conf", "w") as f:
        f.write(f"use chroot = no\nsocket options = TCP_NODELAY\n[m]\npath = {module}\nread only = no\nuid = root\ngid = root\n")
    daemon = start_timed(["rsync", "--daemon", "--no-detach", f"--config={base}/rsyncd.conf", f"--port={port}",
                          "--address=127.0.0.1"])
    wait_for(lambda: subprocess.run(["rsync", f"rsync://127.0.0.1:{port}/"], capture_output=True).returncode == 0, 10)
    daemon.port = port
    return daemon


def remote_sync(base, src):
    """The first sync to an empty module, then a resync of the module, now up to date (what a
    sender that lost its state does): each with a daemon of its own, for each one's peak RSS."""
    module = f"{base}/module"
    os.makedirs(module)
    ours = {}
    for run in ["first", "again"]:
        daemon = serve(base, module)
        t, rss, _ = ours[run] = timed([RUNNER, "run", script(base, src, f"runner://127.0.0.1:{daemon.port}/m", "timeout = 600"),
                           "--once", "--log-level", "warning"], env=ENV)
        receiver_rss = stop_timed(daemon)
        prefix = "million.runner" if run == "first" else "million.runner.resync"
        out(f"{prefix}.seconds", f"{t:.2f}")
        out(f"{prefix}.sender_peak_rss_kib", rss)
        out(f"{prefix}.receiver_peak_rss_kib", receiver_rss)
        out(f"{prefix}.complete", same_tree(src, module))
        shutil.rmtree(f"{base}/state", ignore_errors=True)  # the resync is one of a sender without state
    shutil.rmtree(module)

    os.makedirs(module)
    theirs = {}
    for run in ["first", "again"]:
        daemon = rsync_daemon(base, module)
        theirs[run] = timed(["rsync", "-a", f"{src}/", f"rsync://127.0.0.1:{daemon.port}/m/"])
        daemon_rss = stop_timed(daemon)
        prefix = "million.rsyncd" if run == "first" else "million.rsyncd.resync"
        out(f"{prefix}.seconds", f"{theirs[run][0]:.2f}")
        out(f"{prefix}.client_peak_rss_kib", theirs[run][1])
        out(f"{prefix}.daemon_peak_rss_kib", daemon_rss)
    shutil.rmtree(module)
    out("million.ratio.seconds_vs_rsyncd", f"{ours['first'][0] / theirs['first'][0]:.2f}")
    out("million.resync.ratio.seconds_vs_rsyncd", f"{ours['again'][0] / theirs['again'][0]:.2f}")


def down_host(base):
    """A sender whose one receiver is down while 100,000 files arrive: what it holds for it."""
    src, seen = f"{base}/churn", f"{base}/seen"
    os.makedirs(src)
    closed = 19990 - os.getpid() % 90
    path = f"{base}/down.lua"
    with open(path, "w") as f:
        f.write(f'settings {{ state_dir = "{base}/state-down" }}\n'
                f'pipeline "d" {{ source = "{src}", to = {{ "runner://127.0.0.1:{closed}/m", "file://{seen}" }},'
                f' delay = 0.2, retry = {{ initial = 60, max = 60 }} }}\n')
    p = subprocess.Popen([RUNNER, "run", path, "--log-level", "warning"], env=ENV, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    wait_for(lambda: os.path.isdir(seen), 30)
    before = rss_now_kib(p.pid)
    for a in range(100):
        os.makedirs(f"{src}/d{a:02}")
        for b in range(1000):
            with open(f"{src}/d{a:02}/f{b:03}.conf", "w") as f:
                f.write("x")
    wait_for(lambda: sum(len(fs) for _, _, fs in os.walk(seen)) >= 100_000, 120)
    after = rss_now_kib(p.pid)
    p.kill()
    p.wait()
    out("million.down_host.paths", 100_000)
    out("million.down_host.rss_growth_kib", after - before)


def bench_million(work):
    base = "/dev/shm/runner-bench-million"
    shutil.rmtree(base, ignore_errors=True)
    src = f"{base}/src"
    old_watches = open(WATCHES).read().strip()
    try:
        with open(WATCHES, "w") as f:
            f.write("1100000")
        t0 = time.monotonic()
        make_million(src, DIRS)
        out("million.tree", f"{DIRS} directories, {DIRS * 10} files, made in {time.monotonic() - t0:.1f} s (tmpfs)")
        watch(base, src)
        local_sync(base, src)
        remote_sync(base, src)
        down_host(base)
    finally:
        with open(WATCHES, "w") as f:
            f.write(old_watches)
        shutil.rmtree(base, ignore_errors=True)
