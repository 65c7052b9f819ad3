#!/usr/bin/env python3
"""make bench: runner's watcher side by side with inotifywait, in one run.

Prints `name: value` lines and `ratio` lines (runner / peer; < 1 is better for
times and memory, > 1 for throughput). Uses the release build of runner.

  latency    write -> batch cut (runner, delay = 0) vs write -> event line (inotifywait -m)
  setup      10,000 directories and 100,000 files: time to watches established, and RSS
  burst      50,000 new files: time until runner cut batches covering all of them, vs
             inotifywait printing all their events
  e2e        write in the source -> visible at the receiver (delay = 0), p50/p90/p99/max over
             100 creates, in-place modifies and `mv tmp file`, and a 2,000-file burst: runner
             run -> runner serve on 127.0.0.1 vs lsyncd 2.2 (default.rsync to an rsync daemon
             on 127.0.0.1), stock and tuned (TCP_NODELAY), and the physical floor
             (../shared/bench/floor: inotify -> read -> TCP -> temp file + rename); RSS;
             and the same runner with a notify webhook that is down, sampled in turn
             (e2e.ratio.*_hook_down_vs_runner: a notification never slows a change)
  delta, deltasize, collision: the delta engine against rdiff and rsync (bench_delta.py)
  fleet      one batch to 1, 4, 16 and 64 receivers, against lsyncd (bench_fleet.py)
  transfer   10,000 small files, a touched and an edited 256 MiB file, against an rsync
             daemon, on tmpfs (bench_transfer.py)
  senders    two senders on etcd: takeover time over 20 kills, etcd writes per revision,
             latency with and without etcd (bench_senders.py)
"""
import ctypes, os, re, select, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.environ.get("RUNNER_BIN", os.path.join(ROOT, ".build/release/runner"))
ENV = dict(os.environ, RUNNER_PLUGIN_PATH=os.path.join(ROOT, "plugins"))
FLOOR_SOURCE = os.environ.get("RUNNER_FLOOR_C", os.path.join(ROOT, "..", "shared", "bench", "floor", "floor.c"))


def floor_binary(work):
    """The physical floor, compiled into the work directory; None (and said) when it cannot be."""
    binary = os.path.join(work, "floor")
    if os.path.exists(binary):
        return binary
    if not os.path.exists(FLOOR_SOURCE) or not shutil.which("cc"):
        out("floor", f"not built ({FLOOR_SOURCE} and cc are needed)")
        return None
    subprocess.run(["cc", "-O2", "-o", binary, FLOOR_SOURCE], check=True)
    return binary


def start_floor(floor, port, src, dst):
    """A floor receiver writing into dst and a floor sender watching src, connected."""
    recv = subprocess.Popen([floor, "recv", str(port), dst])
    # The floor's sender connects once, at start: its receiver must be listening.
    wait_for(lambda: listening(port), 5)
    for _ in range(50):
        send = subprocess.Popen([floor, "send", str(port), src], stderr=subprocess.DEVNULL)
        if not wait_for(lambda: send.poll() is not None, 0.2):
            return recv, send
    raise RuntimeError("the floor's sender could not connect")


def listening(port):
    """Whether a socket listens on the TCP port (state 0A in /proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        return any(fields[1].endswith(f":{port:04X}") and fields[3] == "0A"
                   for fields in (line.split() for line in f.readlines()[1:]))


def out(name, value):
    print(f"{name}: {value}", flush=True)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Lines:
    """Reads a child's stream line by line with a deadline (no sleeps)."""

    def __init__(self, stream):
        self.fd = stream.fileno()
        os.set_blocking(self.fd, False)
        self.buf = b""

    def next(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                chunk = os.read(self.fd, 1 << 16)
                if not chunk:
                    return None
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace")

    def until(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while True:
            line = self.next(deadline)
            if line is None:
                raise TimeoutError(f"no line matching {pattern!r}")
            if re.search(pattern, line):
                return line


def pipeline(work, source, delay=0, dry=False):
    script = os.path.join(work, "bench.lua")
    with open(script, "w") as f:
        f.write(f'''
local tempfiles = require "tempfiles"
pipeline "bench" {{
  source = "{source}", to = "file://{work}/dst", ignore = {{ tempfiles.all }},
  delay = {delay}, max_delay = 1,
}}
''')
    return script


def start_runner(script, *extra):
    p = subprocess.Popen([RUNNER, "run", script, "--log-level", "debug", *extra], env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return p, Lines(p.stderr)


def start_inotifywait(path):
    p = subprocess.Popen(["inotifywait", "-r", "-m", "--format", "%w%f %e", path],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    Lines(p.stderr).until(r"Watches established", 60)
    return p, Lines(p.stdout)


def stop(p):
    p.terminate()
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def bench_latency(work, n=200):
    src = os.path.join(work, "lat")
    os.makedirs(src)
    ours = []
    p, lines = start_runner(pipeline(work, src, delay=0))
    lines.until(r"\bready\b", 30)
    for i in range(n):
        t0 = time.monotonic()
        with open(os.path.join(src, f"f{i % 20}.conf"), "w") as f:
            f.write(f"value {i}\n")
        line = lines.until(r"batch cut", 10)
        ours.append(float(re.search(r"mono=([0-9.]+)", line).group(1)) - t0)
        lines.until(r"revision \d+: applied", 10)  # idle again before the next write
    stop(p)

    peer = []
    p, lines = start_inotifywait(src)
    for i in range(n):
        t0 = time.monotonic()
        with open(os.path.join(src, f"f{i % 20}.conf"), "w") as f:
            f.write(f"value {i}\n")
        lines.until(r"CLOSE_WRITE", 10)
        peer.append(time.monotonic() - t0)
    stop(p)
    for name, values in (("runner", ours), ("inotifywait", peer)):
        out(f"latency.{name}.p50_ms", f"{percentile(values, 0.5) * 1000:.3f}")
        out(f"latency.{name}.p99_ms", f"{percentile(values, 0.99) * 1000:.3f}")
    out("latency.ratio.p50", f"{percentile(ours, 0.5) / percentile(peer, 0.5):.2f}")
    out("latency.ratio.p99", f"{percentile(ours, 0.99) / percentile(peer, 0.99):.2f}")


def make_tree(root, dirs=10000, files=100000):
    # 100 top directories x 100 subdirectories; 10 files in each leaf.
    per_leaf = files // dirs
    made = 0
    for a in range(100):
        for b in range(dirs // 100):
            d = os.path.join(root, f"d{a:03}", f"e{b:03}")
            os.makedirs(d, exist_ok=True)
            for c in range(per_leaf):
                with open(os.path.join(d, f"pool{c}.conf"), "w") as f:
                    f.write("x")
                made += 1
    return made


def bench_setup(work):
    tree = os.path.join(work, "tree")
    files = make_tree(tree)
    dirs = sum(1 for _ in os.walk(tree))
    out("setup.tree", f"{dirs} directories, {files} files")

    t0 = time.monotonic()
    p, lines = start_runner(pipeline(work, tree), "--dry-run")
    line = lines.until(r"\bwatching\b", 120)
    ours_t = time.monotonic() - t0
    ours_rss = rss_kib(p.pid)
    watched = re.search(r"directories=(\d+)", line).group(1)
    stop(p)

    t0 = time.monotonic()
    p = subprocess.Popen(["inotifywait", "-r", "-m", tree], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    Lines(p.stderr).until(r"Watches established", 120)
    peer_t = time.monotonic() - t0
    peer_rss = rss_kib(p.pid)
    stop(p)
    out("setup.runner.watches", watched)
    out("setup.runner.seconds", f"{ours_t:.3f}")
    out("setup.runner.rss_kib", ours_rss)
    out("setup.inotifywait.seconds", f"{peer_t:.3f}")
    out("setup.inotifywait.rss_kib", peer_rss)
    out("setup.ratio.seconds", f"{ours_t / peer_t:.2f}")
    out("setup.ratio.rss", f"{ours_rss / peer_rss:.2f}")
    shutil.rmtree(tree)


def burst(dirpath, n):
    for i in range(n):
        with open(os.path.join(dirpath, f"b{i}.conf"), "w") as f:
            f.write("b")


def bench_burst(work, n=50000):
    src = os.path.join(work, "burst-src")
    os.makedirs(os.path.join(src, "b"))
    p, lines = start_runner(pipeline(work, src, delay=0), "--dry-run")
    lines.until(r"\bready\b", 30)
    t0 = time.monotonic()
    burst(os.path.join(src, "b"), n)
    written = time.monotonic()
    out("burst.write_seconds", f"{written - t0:.3f}")
    seen, full, overflows = 0, False, 0
    deadline = time.monotonic() + 300
    while seen < n and not (full and time.monotonic() > written):
        line = lines.next(deadline)
        if line is None:
            break
        if "overflow" in line:
            overflows += 1
        if "batch cut" in line:
            seen += int(re.search(r"paths=(\d+)", line).group(1))
            if "full=true" in line:
                full = True
    ours = time.monotonic() - t0
    stop(p)
    shutil.rmtree(src)

    os.makedirs(os.path.join(src, "b"))
    p, lines = start_inotifywait(src)
    t0 = time.monotonic()
    burst(os.path.join(src, "b"), n)
    # inotifywait has no rescan: after an overflow the lost events never come. Count
    # what arrives until it has been quiet for 2 s.
    closes, last = 0, time.monotonic()
    while closes < n:
        line = lines.next(time.monotonic() + 2)
        if line is None:
            break
        last = time.monotonic()
        if "CLOSE_WRITE" in line:
            closes += 1
    peer = last - t0
    stop(p)
    out("burst.files", n)
    out("burst.runner.seconds", f"{ours:.3f}")
    out("burst.runner.files_per_s", f"{n / ours:.0f}")
    out("burst.runner.overflows", overflows)
    out("burst.inotifywait.seconds", f"{peer:.3f}")
    out("burst.inotifywait.files_per_s", f"{closes / peer:.0f}")
    out("burst.inotifywait.files_lost", n - closes)
    out("burst.ratio.files_per_s", f"{(n / ours) / (closes / peer):.2f}")


def timed(cmd, **kw):
    """Runs a command under GNU time; returns (seconds, peak RSS KiB of it and the
    children it waited for, stdout)."""
    fd, rss_file = tempfile.mkstemp(prefix="runner-bench-rss.")
    os.close(fd)
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file, *cmd], capture_output=True, **kw)
    elapsed = time.monotonic() - t0
    rss = int(open(rss_file).read().split()[-1] or 0) if p.returncode == 0 else 0
    os.unlink(rss_file)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd}: {p.stderr.decode(errors='replace')}")
    return elapsed, rss, p.stdout.decode(errors="replace")


def median_run(fn, n):
    runs = [fn() for _ in range(n)]
    runs.sort(key=lambda r: r[0])
    return runs[len(runs) // 2]


def rss_now_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):  # it exited while we looked
        pass
    return 0


def pss_now_kib(pid):
    """Proportional set size: shared pages (the binary's code, shared by a daemon and
    the sessions it forks) are split between the processes that map them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):  # it exited while we looked
        pass
    return 0


def tree_kib(pid, measure=rss_now_kib):
    """RSS (or PSS) of a process and its children (a daemon and its sessions)."""
    total = measure(pid)
    try:
        for child in open(f"/proc/{pid}/task/{pid}/children").read().split():
            total += tree_kib(int(child), measure)
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
    return False


def start_logged(argv, log, ready, timeout=30):
    """`runner ARGV` with its log in the file `log` (a pipe nobody reads would stall it once
    full), once a line matches the regex `ready`: the process and the match. One whose line
    never comes is stopped, and TimeoutError raised."""
    p = subprocess.Popen([RUNNER, *argv], env=ENV, stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    match = None

    def seen():
        nonlocal match
        match = re.search(ready, open(log).read())
        return match is not None
    if not wait_for(seen, timeout):
        stop(p)
        raise TimeoutError(f"runner {argv[0]}: no '{ready}' in {log}")
    return p, match


class Arrivals:
    """Waits for files in a directory on inotify, asleep: a harness that spins on a 2-core
    machine takes a core from what it measures, and the scheduler then delays the watched
    process's wakeups by a time slice (2-3 ms here), which is the harness, not the tool."""

    IN_CLOSE_WRITE, IN_MOVED_TO = 0x8, 0x80

    def __init__(self, directory):
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0 or libc.inotify_add_watch(self.fd, directory.encode(),
                                                 self.IN_CLOSE_WRITE | self.IN_MOVED_TO) < 0:
            raise OSError(ctypes.get_errno(), f"inotify on {directory}")

    def wait(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return predicate()
            try:
                os.read(self.fd, 65536)
            except BlockingIOError:
                pass
        return True

    def close(self):
        os.close(self.fd)


def content_is(path, data):
    try:
        with open(path, "rb") as f:
            return f.read() == data
    except OSError:
        return False


def e2e_measure(targets, burst=True):
    """Latency write -> visible at the receiver for create, modify, mv tmp file (100 each),
    then a 2,000-file burst for the first target (the floor watches one directory: not for
    it); prints p50/p90/max per target. `targets` are (src, dst, label), sampled in turn,
    one change each: a drift of the machine's speed (this VM's varies by half within
    minutes) then falls on every target alike, and the ratios between them hold."""
    results = {label: {} for _, _, label in targets}
    arrivals = {label: Arrivals(dst) for _, dst, label in targets}
    for kind in ("create", "modify", "mv"):
        samples = {label: [] for _, _, label in targets}
        for i in range(100):
            for src, dst, label in targets:
                samples[label].append(e2e_sample(src, dst, arrivals[label], kind, i))
                time.sleep(0.02)
        for _, _, label in targets:
            results[label][kind] = samples[label]
            out(f"e2e.{label}.{kind}.p50_ms", f"{percentile(samples[label], 0.5) * 1000:.2f}")
            out(f"e2e.{label}.{kind}.p90_ms", f"{percentile(samples[label], 0.9) * 1000:.2f}")
            out(f"e2e.{label}.{kind}.p99_ms", f"{percentile(samples[label], 0.99) * 1000:.2f}")
            out(f"e2e.{label}.{kind}.max_ms", f"{max(samples[label]) * 1000:.2f}")
    for a in arrivals.values():
        a.close()
    if not burst:
        return results, None
    src, dst, label = targets[0]
    burst_dir = os.path.join(src, "burst")
    os.makedirs(burst_dir)
    t0 = time.monotonic()
    for i in range(2000):
        with open(os.path.join(burst_dir, f"b{i}.conf"), "w") as f:
            f.write("b")
    written = time.monotonic()
    target = os.path.join(dst, "burst")
    ok = wait_for(lambda: os.path.isdir(target) and len(os.listdir(target)) >= 2000, 60)
    done = time.monotonic()
    out(f"e2e.{label}.burst2000.applied_after_last_write_s", f"{done - written:.3f}" if ok else "timeout")
    out(f"e2e.{label}.burst2000.total_s", f"{done - t0:.3f}" if ok else "timeout")
    return results, (done - written if ok else float("inf"))


def e2e_sample(src, dst, arrivals, kind, i):
    """Seconds from one change in src to its arrival in dst (inf: it never came)."""
    name = f"{kind}{i}.conf"
    data = f"{kind} {i} {time.monotonic()}\n".encode()
    if kind == "modify":
        with open(os.path.join(src, name), "wb") as f:
            f.write(b"before\n")
        arrivals.wait(lambda: content_is(os.path.join(dst, name), b"before\n"))
        time.sleep(0.05)  # let the previous batch finish: we time one change, not a queue
    t0 = time.monotonic()
    if kind == "mv":
        tmp = os.path.join(src, f".{name}.tmp123")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(src, name))
    else:
        with open(os.path.join(src, name), "r+b" if kind == "modify" else "wb") as f:
            f.write(data)
            f.truncate()
    if not arrivals.wait(lambda: content_is(os.path.join(dst, name), data), 10):
        return float("inf")
    return time.monotonic() - t0


def start_e2e_runner(base, extra=""):
    """runner serve on loopback and runner run to it (delay 0), under `base`: (src, module, run, serve)."""
    src, module = os.path.join(base, "src"), os.path.join(base, "module")
    os.makedirs(src)
    os.makedirs(module)
    with open(os.path.join(base, "secrets"), "w") as f:
        f.write("sync:bench\n")
    os.chmod(os.path.join(base, "secrets"), 0o600)
    with open(os.path.join(base, "sync.secret"), "w") as f:
        f.write("bench\n")
    os.chmod(os.path.join(base, "sync.secret"), 0o600)
    with open(os.path.join(base, "receiver.lua"), "w") as f:
        f.write('settings { listen = "127.0.0.1:0", log = "warning" }\n'
                f'module "bench" {{ path = "{module}", auth_users = {{ "sync" }}, secrets = "{base}/secrets" }}\n')
    serve, listening = start_logged(["serve", os.path.join(base, "receiver.lua"), "--log-level", "notice"],
                                    os.path.join(base, "serve.log"), r"listening on 127\.0\.0\.1:(\d+)")
    port = int(listening.group(1))
    with open(os.path.join(base, "p.lua"), "w") as f:
        f.write(f'settings {{ state_dir = "{base}/state" }}\nlocal tempfiles = require "tempfiles"\n'
                f'pipeline "bench" {{ source = "{src}", to = "runner://127.0.0.1:{port}/bench", delay = 0, delete = true,\n'
                f'  ignore = {{ tempfiles.all, "*.tmp123" }}, auth = {{ user = "sync", secret_file = "{base}/sync.secret" }},\n'
                f'  {extra} }}\n')
    run, _ = start_logged(["run", os.path.join(base, "p.lua"), "--log-level", "info"], os.path.join(base, "run.log"),
                          "ready")
    return src, module, run, serve


def bench_e2e(work):
    # runner: runner serve on loopback, runner run to runner://, delay 0; and the same with a
    # webhook that is down (nothing listens on its port): its notifications must not slow a change.
    src, module, run, serve = start_e2e_runner(os.path.join(work, "e2e-runner"))
    closed = 18650 + os.getpid() % 50
    hook = start_e2e_runner(os.path.join(work, "e2e-runner-hook-down"),
                            f'notify = {{ webhook = "http://127.0.0.1:{closed}/down" }}')
    # The floor beside it, sampled in turn with it (see e2e_measure).
    targets = [(src, module, "runner"), (hook[0], hook[1], "runner_hook_down")]
    floor = floor_binary(work)
    if floor:
        floor_base = os.path.join(work, "e2e-floor")
        floor_src, floor_dst = os.path.join(floor_base, "src"), os.path.join(floor_base, "dst")
        os.makedirs(floor_src)
        os.makedirs(floor_dst)
        recv, send = start_floor(floor, 18700 + os.getpid() % 100, floor_src, floor_dst)
        targets.append((floor_src, floor_dst, "floor"))
    try:
        measured, ours_burst = e2e_measure(targets)
    finally:
        if floor:
            stop(send)
            stop(recv)
    ours = measured["runner"]
    memory = {"sender": (rss_now_kib(run.pid), pss_now_kib(run.pid)),
              "receiver": (tree_kib(serve.pid), tree_kib(serve.pid, pss_now_kib))}
    out("e2e.runner.rss_kib.sender", memory["sender"][0])
    out("e2e.runner.pss_kib.sender", memory["sender"][1])
    out("e2e.runner.rss_kib.receiver_daemon_and_session", memory["receiver"][0])
    out("e2e.runner.pss_kib.receiver_daemon_and_session", memory["receiver"][1])
    stop(run)
    stop(serve)
    stop(hook[2])
    stop(hook[3])
    for kind in ("create", "modify", "mv"):
        for q in (0.5, 0.99):
            ratio = percentile(measured["runner_hook_down"][kind], q) / percentile(ours[kind], q)
            out(f"e2e.ratio.{kind}.p{int(q * 100)}_hook_down_vs_runner", f"{ratio:.2f}")
    if floor:
        bottom = measured["floor"]
        for kind in ("create", "modify", "mv"):
            for q in (0.5, 0.9, 0.99):
                ratio = percentile(ours[kind], q) / percentile(bottom[kind], q)
                out(f"e2e.ratio.{kind}.p{int(q * 100)}_vs_floor", f"{ratio:.2f}")

    if not shutil.which("lsyncd"):
        out("e2e.lsyncd", "not installed")
        return
    for form in ("stock", "tuned"):
        base = os.path.join(work, f"e2e-lsyncd-{form}")
        src, module = os.path.join(base, "src"), os.path.join(base, "module")
        os.makedirs(src)
        os.makedirs(module)
        port = 18800 + (0 if form == "stock" else 1) + os.getpid() % 500
        conf = os.path.join(base, "rsyncd.conf")
        with open(conf, "w") as f:
            f.write("use chroot = no\n" + ("socket options = TCP_NODELAY\n" if form == "tuned" else "")
                    + f"[bench]\npath = {module}\nread only = no\nuid = root\ngid = root\n")
        rsyncd = subprocess.Popen(["rsync", "--daemon", "--no-detach", f"--config={conf}", f"--port={port}", "--address=127.0.0.1"])
        wait_for(lambda: subprocess.run(["rsync", f"rsync://127.0.0.1:{port}/"], capture_output=True).returncode == 0, 10)
        extra = ', _extra = { "--sockopts=TCP_NODELAY" }' if form == "tuned" else ""
        lconf = os.path.join(base, "lsyncd.lua")
        with open(lconf, "w") as f:
            f.write(f'settings {{ nodaemon = true, logfile = "{base}/lsyncd.log", statusFile = "{base}/lsyncd.status" }}\n'
                    f'sync {{ default.rsync, source = "{src}/", target = "rsync://127.0.0.1:{port}/bench/", delay = 0,\n'
                    f'  exclude = {{ "*.tmp123" }}, rsync = {{ archive = true{extra} }} }}\n')
        lsyncd = subprocess.Popen(["lsyncd", lconf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # lsyncd does an initial full rsync first; wait for it to be watching.
        wait_for(lambda: os.path.exists(os.path.join(base, "lsyncd.log"))
                 and "Normal: Finished" in open(os.path.join(base, "lsyncd.log")).read(), 30)
        measured, theirs_burst = e2e_measure([(src, module, f"lsyncd_{form}")])
        theirs = measured[f"lsyncd_{form}"]
        theirs_memory = {"sender": (rss_now_kib(lsyncd.pid), pss_now_kib(lsyncd.pid)),
                         "receiver": (tree_kib(rsyncd.pid), tree_kib(rsyncd.pid, pss_now_kib))}
        out(f"e2e.lsyncd_{form}.rss_kib.lsyncd", theirs_memory["sender"][0])
        out(f"e2e.lsyncd_{form}.pss_kib.lsyncd", theirs_memory["sender"][1])
        out(f"e2e.lsyncd_{form}.rss_kib.rsync_daemon", theirs_memory["receiver"][0])
        out(f"e2e.lsyncd_{form}.pss_kib.rsync_daemon", theirs_memory["receiver"][1])
        for side in ("sender", "receiver"):
            for i, kind in enumerate(("rss", "pss")):
                out(f"e2e.ratio.{kind}.{side}_vs_lsyncd_{form}", f"{memory[side][i] / max(1, theirs_memory[side][i]):.2f}")
        for kind in ("create", "modify", "mv"):
            out(f"e2e.ratio.{kind}.p50_vs_lsyncd_{form}", f"{percentile(ours[kind], 0.5) / percentile(theirs[kind], 0.5):.3f}")
        out(f"e2e.ratio.burst_vs_lsyncd_{form}", f"{ours_burst / theirs_burst:.3f}")
        stop(lsyncd)
        stop(rsyncd)


def main():
    from bench_delta import bench_delta, bench_delta_sizes, bench_collision
    from bench_fleet import bench_fleet
    from bench_transfer import bench_transfer
    from bench_million import bench_million
    from bench_senders import bench_senders
    from bench_thousand import bench_thousand
    if not os.access(RUNNER, os.X_OK):
        sys.exit(f"bench: {RUNNER} is missing: run `make release` first")
    work = tempfile.mkdtemp(prefix="runner-bench.")
    ENV["XDG_STATE_HOME"] = os.path.join(work, "state")  # the bench's own state, not the machine's
    sections = [("latency", bench_latency), ("burst", bench_burst), ("setup", bench_setup), ("e2e", bench_e2e),
                ("delta", bench_delta), ("deltasize", bench_delta_sizes), ("collision", bench_collision),
                ("fleet", bench_fleet), ("transfer", bench_transfer), ("million", bench_million),
                ("senders", bench_senders), ("thousand", bench_thousand)]
    try:
        which = sys.argv[1:] or [name for name, _ in sections]
        for name, section in sections:
            if name not in which:
                continue
            # Each section starts on a quiet disk: the 150,000 files the watcher sections
            # leave would otherwise still be written back (and journaled) under the next one.
            for entry in os.listdir(work):
                if entry != "state":
                    path = os.path.join(work, entry)
                    shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.unlink(path)
            os.sync()
            section(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
