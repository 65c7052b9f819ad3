"""make bench, the delta engine against rdiff and rsync (imported by bench.py):

  delta      a 256 MiB random file against (a) 100 scattered 1-byte changes, (b) 4 MiB
             inserted in the middle, (c) identical, (d) fully different: runner delta
             (signature + delta + patch) vs rdiff (the same three) vs rsync -I
             --no-whole-file (local, and to an rsync daemon on 127.0.0.1): wall time,
             delta bytes / bytes rsync sent, peak RSS; signature and delta MB/s beside
             xxhsum -H3 and cat as the physical reference
  deltasize  one-line edits of a 5 KB, 26 KB, 246 KB and 32 MB file (php-fpm's own
             configs where installed, then php.ini text, then log-like lines), and each
             file against itself: delta and signature bytes, runner vs rdiff
  collision  a 256 KB basis whose 512-byte blocks all share one rsync weak sum, against
             a file whose every window has that sum: runner delta vs rdiff delta (with its
             default Rabin-Karp sum, and with rsync's rollsum, which this basis targets)
"""
import filecmp, os, random, re, shutil, subprocess, time

from bench import RUNNER, out, timed, median_run


def make_delta_files(work, size=256 << 20):
    """Streams the files to disk so that this process stays small: the peak RSS of a
    child is read with wait4, and a child starts as a copy of its parent."""
    import random
    rnd = random.Random(42)
    chunk = 4 << 20
    basis = os.path.join(work, "basis")
    with open(basis, "wb") as f:
        for _ in range(size // chunk):
            f.write(os.urandom(chunk))
    shutil.copyfile(basis, os.path.join(work, "a"))
    with open(os.path.join(work, "a"), "r+b") as f:
        for _ in range(100):
            pos = rnd.randrange(size)
            f.seek(pos)
            byte = f.read(1)[0]
            f.seek(pos)
            f.write(bytes([byte ^ 0xFF]))
    with open(basis, "rb") as src, open(os.path.join(work, "b"), "wb") as f:
        for i in range(size // chunk):
            if i == size // chunk // 2:
                f.write(os.urandom(4 << 20))
            f.write(src.read(chunk))
    shutil.copyfile(basis, os.path.join(work, "c"))
    with open(os.path.join(work, "d"), "wb") as f:
        for _ in range(size // chunk):
            f.write(os.urandom(chunk))
    return basis


def rsync_sent(stats):
    m = re.search(r"Total bytes sent: ([0-9,]+)", stats)
    return int(m.group(1).replace(",", "")) if m else -1


def bench_delta(work):
    basis = make_delta_files(work)
    size_mb = os.path.getsize(basis) / 1e6
    sig, delta, rebuilt = (os.path.join(work, n) for n in ("sig", "delta", "out"))
    # The rsync daemon on loopback, serving a module whose file is reset before each run.
    module = os.path.join(work, "module")
    os.makedirs(module)
    port = 18730 + os.getpid() % 1000
    conf = os.path.join(work, "rsyncd.conf")
    with open(conf, "w") as f:
        f.write(f"use chroot = no\n[bench]\npath = {module}\nread only = no\nuid = root\ngid = root\n")
    daemon = subprocess.Popen(["rsync", "--daemon", "--no-detach", f"--config={conf}", f"--port={port}", "--address=127.0.0.1"])
    try:
        for _ in range(100):
            if subprocess.run(["rsync", f"rsync://127.0.0.1:{port}/"], capture_output=True).returncode == 0:
                break
            time.sleep(0.05)  # startup poll of the daemon, not a measurement
        t_cat = median_run(lambda: timed(["sh", "-c", f"cat {basis} > /dev/null"]), 3)[0]
        out("delta.cat.seconds", f"{t_cat:.3f}")
        if shutil.which("xxhsum"):
            t_xxh = median_run(lambda: timed(["xxhsum", "-H3", basis]), 3)[0]
            out("delta.xxhsum_h3.seconds", f"{t_xxh:.3f}")
            out("delta.xxhsum_h3.mb_per_s", f"{size_mb / t_xxh:.0f}")
        t_sig, rss_sig, _ = median_run(lambda: timed([RUNNER, "delta", "signature", basis, sig]), 3)
        out("delta.runner.signature.seconds", f"{t_sig:.3f}")
        out("delta.runner.signature.mb_per_s", f"{size_mb / t_sig:.0f}")
        t_rsig = median_run(lambda: timed(["rdiff", "-f", "signature", basis, sig + ".rdiff"]), 3)[0]
        out("delta.rdiff.signature.seconds", f"{t_rsig:.3f}")
        for case in ["a", "b", "c", "d"]:
            new = os.path.join(work, case)
            reps = 1 if case == "d" else 3

            def ours():
                # As rsync does: the destination holds the old file and is the basis;
                # the receiver's signature, then the sender's delta streamed into the
                # receiver's patch, which replaces the destination.
                dest = os.path.join(work, "dest")
                shutil.copyfile(basis, dest)
                os.sync()  # no writeback of the set-up copy during the timed run
                t1, r1, _ = timed([RUNNER, "delta", "signature", dest, sig])
                t2, r2, _ = timed(["sh", "-c", f'"{RUNNER}" delta delta {sig} {new} - | "{RUNNER}" delta patch {dest} - {dest}'])
                assert filecmp.cmp(dest, new, shallow=False), "runner delta round trip failed"
                t3, r3, _ = timed([RUNNER, "delta", "delta", sig, new, delta])
                return t1 + t2, max(r1, r2, r3), t3, os.path.getsize(delta)

            def rdiff():
                for f in (rebuilt + ".rdiff",):
                    if os.path.exists(f):
                        os.unlink(f)
                os.sync()
                t1, r1, _ = timed(["rdiff", "-f", "signature", basis, sig + ".rdiff"])
                t2, r2, _ = timed(["rdiff", "-f", "delta", sig + ".rdiff", new, delta + ".rdiff"])
                t3, r3, _ = timed(["rdiff", "-f", "patch", basis, delta + ".rdiff", rebuilt + ".rdiff"])
                return t1 + t2 + t3, max(r1, r2, r3), os.path.getsize(delta + ".rdiff")

            def rsync_local():
                dest = os.path.join(work, "dest")
                shutil.copyfile(basis, dest)
                os.sync()
                t, r, stats = timed(["rsync", "-I", "--no-whole-file", "--stats", new, dest])
                return t, r, rsync_sent(stats)

            def rsync_daemon():
                shutil.copyfile(basis, os.path.join(module, "file"))
                os.sync()
                t, r, stats = timed(["rsync", "-I", "--no-whole-file", "--stats", new, f"rsync://127.0.0.1:{port}/bench/file"])
                return t, r, rsync_sent(stats)

            reps = 1 if case == "d" else 5
            t, rss, t_delta, nbytes = median_run(ours, reps)
            rt, rrss, rbytes = median_run(rdiff, reps)
            lt, lrss, lbytes = median_run(rsync_local, reps)
            dt, drss, dbytes = median_run(rsync_daemon, reps)
            out(f"delta.{case}.runner.seconds", f"{t:.3f}")
            out(f"delta.{case}.runner.delta_only_seconds", f"{t_delta:.3f}")
            out(f"delta.{case}.runner.bytes", nbytes)
            out(f"delta.{case}.runner.peak_rss_kib", rss)
            out(f"delta.{case}.rdiff.seconds", f"{rt:.3f}")
            out(f"delta.{case}.rdiff.bytes", rbytes)
            out(f"delta.{case}.rdiff.peak_rss_kib", rrss)
            out(f"delta.{case}.rsync_local.seconds", f"{lt:.3f}")
            out(f"delta.{case}.rsync_local.bytes_sent", lbytes)
            out(f"delta.{case}.rsync_local.peak_rss_kib", lrss)
            out(f"delta.{case}.rsync_daemon.seconds", f"{dt:.3f}")
            out(f"delta.{case}.rsync_daemon.bytes_sent", dbytes)
            out(f"delta.{case}.ratio.seconds_vs_rsync_local", f"{t / lt:.2f}")
            out(f"delta.{case}.ratio.seconds_vs_rdiff", f"{t / rt:.2f}")
            out(f"delta.{case}.ratio.bytes_vs_rsync", f"{nbytes / max(1, lbytes):.3f}")
            if case == "a":
                out("delta.runner.delta.mb_per_s", f"{os.path.getsize(new) / 1e6 / t_delta:.0f}")
    finally:
        daemon.terminate()
        daemon.wait()
    for name in ["a", "b", "c", "d", "basis"]:
        os.unlink(os.path.join(work, name))



def read_or(path, fallback):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return fallback


def edit_line(data, fraction):
    """Appends a word to the first non-empty line at `fraction` of the file."""
    lines = data.split(b"\n")
    i = int(len(lines) * fraction)
    while not lines[i].strip():
        i += 1
    lines[i] += b" ; edited"
    return b"\n".join(lines)


def delta_size_pairs():
    rnd = random.Random(7)
    words = [b"alpha", b"pool", b"worker", b"GET", b"POST", b"200", b"404", b"/index.php", b"/api/v1/items"]
    log = b"".join(b"%d %s %s %d\n" % (rnd.randrange(10**9), rnd.choice(words), rnd.choice(words), rnd.randrange(10**6))
                   for _ in range(1_200_000))
    while len(log) < 32 << 20:
        log += log
    log = log[:32 << 20]
    fpm = read_or("/etc/php/8.2/fpm/php-fpm.conf", log[:5457])
    www = read_or("/etc/php/8.2/fpm/pool.d/www.conf", log[:22096])
    env = b"".join(b"env[VAR_%03d] = functional-value-%03d\n" % (i, i) for i in range(200))
    pool = (www + b"\n" + env)[:26000]
    ini = b"".join(read_or(p, b"") for p in ["/usr/lib/php/8.2/php.ini-development", "/usr/lib/php/8.2/php.ini-production",
                                             "/etc/php/8.2/fpm/php.ini", "/usr/lib/php/8.2/php.ini-production.cli"])
    ini = (ini if len(ini) >= 246000 else log)[:246000]
    return {"5k": (fpm, edit_line(fpm, 0.5)), "26k": (pool, pool.replace(b"functional-value-050", b"regression-value-050")),
            "246k": (ini, edit_line(ini, 0.5)), "32m": (log, edit_line(log, 0.5))}


def bench_delta_sizes(work):
    size = os.path.getsize
    for name, (old, new) in delta_size_pairs().items():
        paths = {k: os.path.join(work, f"{name}.{k}") for k in ("old", "new", "sig", "d", "same", "rsig", "rd", "rsame")}
        with open(paths["old"], "wb") as f:
            f.write(old)
        with open(paths["new"], "wb") as f:
            f.write(new)
        for cmd in ([RUNNER, "delta", "signature", paths["old"], paths["sig"]],
                    [RUNNER, "delta", "delta", paths["sig"], paths["new"], paths["d"]],
                    [RUNNER, "delta", "delta", paths["sig"], paths["old"], paths["same"]],
                    ["rdiff", "-f", "signature", paths["old"], paths["rsig"]],
                    ["rdiff", "-f", "delta", paths["rsig"], paths["new"], paths["rd"]],
                    ["rdiff", "-f", "delta", paths["rsig"], paths["old"], paths["rsame"]]):
            subprocess.run(cmd, check=True)
        out(f"deltasize.{name}.file_bytes", len(old))
        out(f"deltasize.{name}.edit.runner_bytes", size(paths["d"]))
        out(f"deltasize.{name}.edit.rdiff_bytes", size(paths["rd"]))
        out(f"deltasize.{name}.identical.runner_bytes", size(paths["same"]))
        out(f"deltasize.{name}.identical.rdiff_bytes", size(paths["rsame"]))
        out(f"deltasize.{name}.signature.runner_bytes", size(paths["sig"]))
        out(f"deltasize.{name}.signature.rdiff_bytes", size(paths["rsig"]))
        out(f"deltasize.{name}.ratio.edit_vs_rdiff", f"{size(paths['d']) / size(paths['rd']):.2f}")
        for p in paths.values():
            os.unlink(p)


def bench_collision(work):
    """Blocks of 128s, each with one (+1, -2, +1) step: that step keeps both of rsync's sums."""
    length, count = 512, 512
    basis = bytearray()
    for i in range(count):
        block = bytearray([128]) * length
        at = (i * 37) % (length - 2)
        block[at] += 1
        block[at + 1] -= 2
        block[at + 2] += 1
        basis += block
    paths = {k: os.path.join(work, f"collision.{k}") for k in ("basis", "new", "sig", "d", "rsig", "rd", "ksig", "kd")}
    with open(paths["basis"], "wb") as f:
        f.write(basis)
    with open(paths["new"], "wb") as f:
        f.write(bytes([128]) * len(basis))
    subprocess.run([RUNNER, "delta", "signature", "--block-length", str(length), paths["basis"], paths["sig"]], check=True)
    subprocess.run(["rdiff", "-f", "-b", str(length), "-R", "rollsum", "signature", paths["basis"], paths["rsig"]], check=True)
    subprocess.run(["rdiff", "-f", "-b", str(length), "signature", paths["basis"], paths["ksig"]], check=True)
    t = median_run(lambda: timed([RUNNER, "delta", "delta", paths["sig"], paths["new"], paths["d"]]), 5)[0]
    rt = median_run(lambda: timed(["rdiff", "-f", "delta", paths["rsig"], paths["new"], paths["rd"]]), 5)[0]
    kt = median_run(lambda: timed(["rdiff", "-f", "delta", paths["ksig"], paths["new"], paths["kd"]]), 5)[0]
    out("collision.basis_bytes", len(basis))
    out("collision.runner.delta_seconds", f"{t:.4f}")
    out("collision.rdiff_rollsum.delta_seconds", f"{rt:.4f}")
    out("collision.rdiff_rabinkarp.delta_seconds", f"{kt:.4f}")
    out("collision.ratio.runner_vs_rdiff_rollsum", f"{t / rt:.2f}")
    out("collision.ratio.runner_vs_rdiff_rabinkarp", f"{t / kt:.2f}")
    for p in paths.values():
        os.unlink(p)
