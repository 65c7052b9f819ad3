"""make bench, two senders on etcd (imported by bench.py):

  senders    a one-member etcd (Debian's etcd-server) on 127.0.0.1, one runner serve with
             three modules, two runner run of one script with settings.coordination
             (lease 3 s, a shared source):
             - takeover: kill -9 of the leader -> the standby logs that it leads, 20 times
               (the killed one is started again as the standby each time): p50 and max;
             - etcd writes per revision: etcd's store revision before and after 20 edits,
               each waited for at every receiver, over the 20 revisions they made;
             - latency: an edit -> at all three receivers, p50 and p90 over 30 edits, the
               same sender with coordination and without it, in turn.
"""
import os, shutil, socket, subprocess, time, urllib.request, json

from bench import ENV, RUNNER, out, percentile, stop

LEASE = 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def etcd_revision(port):
    body = json.dumps({"key": "AA=="}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/v3/kv/range", body), timeout=2) as r:
        return int(json.load(r)["header"]["revision"])


def log_has(path, text):
    try:
        with open(path) as f:
            return f.read().count(text)
    except FileNotFoundError:
        return 0


def wait_for(predicate, timeout, interval=0.002):
    """Polls `predicate` every `interval` seconds (not busy: two cores are shared with five
    processes here) until it holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def bench_senders(work):
    if not shutil.which("etcd"):
        out("senders", "skipped (etcd-server is not installed)")
        return
    base = os.path.join(work, "senders")
    src = os.path.join(base, "src")
    modules = [os.path.join(base, f"h{i}") for i in range(3)]
    for d in [src] + modules:
        os.makedirs(d)
    client, peer = free_port(), free_port()
    etcd = subprocess.Popen(
        ["etcd", "--name", "e1", "--data-dir", os.path.join(base, "etcd"),
         "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
         "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-cluster", f"e1=http://127.0.0.1:{peer}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    serve = None
    senders = {}
    try:
        wait_for(lambda: _answers(client), 30)
        with open(os.path.join(base, "receiver.lua"), "w") as f:
            f.write('settings { listen = "127.0.0.1:0" }\n')
            for i, m in enumerate(modules):
                f.write(f'module "h{i}" {{ path = "{m}" }}\n')
        serve_log = os.path.join(base, "serve.log")
        serve = subprocess.Popen([RUNNER, "serve", os.path.join(base, "receiver.lua")], env=ENV,
                                 stderr=open(serve_log, "w"))
        wait_for(lambda: log_has(serve_log, "listening on"), 10)
        port = int(open(serve_log).read().split("listening on 127.0.0.1:")[1].split()[0])
        targets = ", ".join(f'"runner://127.0.0.1:{port}/h{i}"' for i in range(3))

        def script(name, coordinated):
            path = os.path.join(base, f"{name}.lua")
            coordination = (f', coordination = {{ etcd = {{ "http://127.0.0.1:{client}" }}, name = "{name}", '
                            f'lease = {LEASE} }}') if coordinated else ""
            with open(path, "w") as f:
                f.write(f'settings {{ state_dir = "{base}/state-{name}"{coordination} }}\n'
                        f'pipeline "p" {{ source = "{src}", to = {{ {targets} }}, delay = 0 }}\n')
            return path

        def start(name, coordinated=True):
            log = os.path.join(base, f"{name}.log")
            p = subprocess.Popen([RUNNER, "run", script(name, coordinated)], env=ENV, stderr=open(log, "a"))
            senders[name] = (p, log)
            return p, log

        counter = [0]

        def edit_and_wait():
            counter[0] += 1
            text = f"[www]\nv = {counter[0]}\n"
            with open(os.path.join(src, "www.conf"), "w") as f:
                f.write(text)
            written = time.monotonic()

            def arrived():
                try:
                    return all(open(os.path.join(m, "www.conf")).read() == text for m in modules)
                except FileNotFoundError:
                    return False
            if not wait_for(arrived, 30):
                logs = "\n".join(open(log).read()[-2000:] for _, log in senders.values())
                raise TimeoutError(f"an edit did not reach every receiver:\n{logs}\n{open(serve_log).read()[-2000:]}")
            return time.monotonic() - written

        # Latency with and without etcd, in turn (the same sender, the same receivers).
        with_etcd, without = [], []
        for coordinated, into in ((False, without), (True, with_etcd)) * 3:
            # A module that a leader pushed to refuses a sender without coordination (token 0)
            # until its fence goes, as an operator going back to one sender removes it.
            for m in modules:
                fence = os.path.join(base, f".{os.path.basename(m)}.runner-fence")
                if not coordinated and os.path.exists(fence):
                    os.unlink(fence)
            p, log = start("solo", coordinated)
            wait_for(lambda: log_has(log, "ready") > 0 and (not coordinated or log_has(log, "leading as") > 0), 30)
            edit_and_wait()  # the first after a start compares whole
            for _ in range(10):
                into.append(edit_and_wait())
            p.terminate()
            p.wait()
            open(log, "w").close()
            shutil.rmtree(os.path.join(base, "state-solo"), ignore_errors=True)
        for name, values in (("with_etcd", with_etcd), ("without_etcd", without)):
            out(f"senders.latency.{name}.p50_ms", f"{percentile(values, 0.5) * 1000:.1f}")
            out(f"senders.latency.{name}.p90_ms", f"{percentile(values, 0.9) * 1000:.1f}")
        out("senders.ratio.latency_with_vs_without_etcd",
            f"{percentile(with_etcd, 0.5) / percentile(without, 0.5):.2f}")

        # Two senders: etcd writes per revision, then takeovers.
        start("sender-a")
        wait_for(lambda: log_has(senders["sender-a"][1], "leading as") > 0, 30)
        start("sender-b")
        wait_for(lambda: log_has(senders["sender-b"][1], "standing by") > 0, 30)
        edit_and_wait()
        before = etcd_revision(client)
        for _ in range(20):
            edit_and_wait()
        out("senders.etcd_writes_per_revision", f"{(etcd_revision(client) - before) / 20:.1f}")

        takeovers = []
        leader, standby = "sender-a", "sender-b"
        for _ in range(20):
            led = log_has(senders[standby][1], "leading as")
            p, _ = senders[leader]
            killed = time.monotonic()
            p.kill()
            p.wait()
            if not wait_for(lambda: log_has(senders[standby][1], "leading as") > led, LEASE + 10):
                raise TimeoutError("the standby did not take over")
            takeovers.append(time.monotonic() - killed)
            standing = log_has(senders[leader][1], "standing by")
            start(leader)
            wait_for(lambda: log_has(senders[leader][1], "standing by") > standing, 30)
            leader, standby = standby, leader
        out("senders.lease_s", LEASE)
        out("senders.takeover.p50_s", f"{percentile(takeovers, 0.5):.2f}")
        out("senders.takeover.max_s", f"{max(takeovers):.2f}")
        edit_and_wait()
        out("senders.after_takeovers", "every receiver has the last edit")
    finally:
        for p, _ in senders.values():
            stop(p)
        if serve:
            stop(serve)
        stop(etcd)


def _answers(port):
    try:
        etcd_revision(port)
        return True
    except OSError:
        return False
