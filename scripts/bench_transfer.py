"""make bench, transfer (imported by bench.py): each row runner:// (runner run --once ->
runner serve) beside rsync -a to an rsync daemon, both on 127.0.0.1, the median of 3, on
tmpfs (/dev/shm, so that disks do not decide), on the bench's own disk (ext4 here), and on
a loop-mounted xfs image (reflinks: the receiver patches a clone of its old file):

  small      10,000 files of 100 bytes in 100 directories, initial sync to an empty module (tmpfs)
  identical  a 256 MiB file the receiver has, only its mtime changed (touch)
  edits      the same file with 100 one-byte edits at random offsets
"""
import os, random, shutil, socket, statistics, subprocess, time

from bench import ENV, RUNNER, listening, out, stop, wait_for


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def timed(argv):
    t0 = time.monotonic()
    subprocess.run(argv, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.monotonic() - t0


def bench_transfer(work):
    bench_on("tmpfs", "/dev/shm/runner-bench-transfer", small=True)
    disk = f"{work}/transfer"
    os.makedirs(disk)
    kind = subprocess.run(["stat", "-f", "-c", "%T", disk], capture_output=True, text=True).stdout.strip()
    bench_on(kind.replace("ext2/ext3", "ext4"), disk, small=False)
    image, mount = f"{work}/xfs.img", f"{work}/xfs"
    os.makedirs(mount)
    made = shutil.which("mkfs.xfs") and subprocess.run(
        f"truncate -s 2G {image} && mkfs.xfs -q {image} && mount -o loop {image} {mount}", shell=True).returncode == 0
    if not made:
        out("transfer.xfs", "skipped (needs mkfs.xfs and a loop device, as root)")
        return
    try:
        bench_on("xfs", f"{mount}/t", small=False)
    finally:
        subprocess.run(["umount", mount])
        os.unlink(image)


def bench_on(fs, base, small):
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    port, rport = free_port(), free_port()
    with open(f"{base}/receiver.lua", "w") as f:
        f.write(f'settings {{ listen = "127.0.0.1:{port}" }}\nmodule "m" {{ path = "{base}/mod" }}\n')
    with open(f"{base}/rsyncd.conf", "w") as f:
        f.write(f"use chroot = no\n[m]\npath = {base}/rmod\nread only = no\nuid = {os.getuid()}\ngid = {os.getgid()}\n")
    with open(f"{base}/p.lua", "w") as f:
        f.write(f'pipeline "p" {{ source = "{base}/src", to = {{ "runner://127.0.0.1:{port}/m" }}, delete = true }}\n')
    env_state = ENV.get("XDG_STATE_HOME")
    ENV["XDG_STATE_HOME"] = f"{base}/state"
    for d in ("mod", "rmod", "src"):
        os.makedirs(f"{base}/{d}")
    serve = subprocess.Popen([RUNNER, "serve", f"{base}/receiver.lua"], env=ENV, stderr=subprocess.DEVNULL)
    rsyncd = subprocess.Popen(["rsync", "--daemon", "--no-detach", f"--config={base}/rsyncd.conf",
                               "--address=127.0.0.1", f"--port={rport}"])
    wait_for(lambda: listening(port) and listening(rport), 10)
    ours_cmd = [RUNNER, "run", "--once", f"{base}/p.lua"]
    theirs_cmd = ["rsync", "-a", f"{base}/src/", f"rsync://127.0.0.1:{rport}/m/"]

    def row(name, prepare):
        ours, theirs = [], []
        for _ in range(3):
            prepare()
            # Each run starts with nothing left to write back: the other's 256 MiB would
            # otherwise be flushed during this one.
            os.sync()
            ours.append(timed(ours_cmd))
            os.sync()
            theirs.append(timed(theirs_cmd))
        o, t = statistics.median(ours), statistics.median(theirs)
        out(f"transfer.{fs}.{name}.runner_s", f"{o:.3f}")
        out(f"transfer.{fs}.{name}.rsync_daemon_s", f"{t:.3f}")
        out(f"transfer.{fs}.ratio.{name}", f"{o / t:.2f}")

    def empty_modules():
        for d in ("mod", "rmod", "state"):
            shutil.rmtree(f"{base}/{d}", ignore_errors=True)
            os.makedirs(f"{base}/{d}")

    try:
        if small:
            for i in range(10000):
                d = f"{base}/src/d{i // 100}"
                os.makedirs(d, exist_ok=True)
                with open(f"{d}/f{i}.conf", "w") as f:
                    f.write("x" * 100)
            row("small", empty_modules)
            shutil.rmtree(f"{base}/src")
            os.makedirs(f"{base}/src")
        empty_modules()
        big = f"{base}/src/big.bin"
        with open(big, "wb") as f:
            for _ in range(256):
                f.write(os.urandom(1 << 20))
        timed(ours_cmd)
        timed(theirs_cmd)
        # A new whole second each time: rsync's quick check compares whole seconds, and
        # would skip a file touched in the second it last saw (and so measure nothing).
        stamp = [int(time.time())]

        def touch():
            stamp[0] += 10
            os.utime(big, (stamp[0], stamp[0]))
        row("identical", touch)

        def edit():
            fd = os.open(big, os.O_WRONLY)
            for _ in range(100):
                os.pwrite(fd, bytes([random.randrange(256)]), random.randrange(256 << 20))
            os.close(fd)
            touch()
        row("edits", edit)
    finally:
        stop(serve)
        stop(rsyncd)
        if env_state is not None:
            ENV["XDG_STATE_HOME"] = env_state
        shutil.rmtree(base, ignore_errors=True)
