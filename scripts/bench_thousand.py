"""make bench, a thousand hosts (imported by bench.py):

  thousand   one 10 KB change applied on 1,000 receivers on 127.0.0.1, half of them
             reached by the sender (runner://, four `runner serve` daemons) and half
             dialing in (`upstream`, four more daemons): p50, p99 and max from the last
             write until each module has it, the sender's CPU and peak RSS and the
             receivers' CPU; lsyncd 2.2
             with as many sync{} targets (default.rsync to one rsync daemon), and the
             floor's pairs (../shared/bench/floor), on the same count
"""
import os, resource, subprocess, time

from bench import ENV, RUNNER, floor_binary, out, percentile, rss_kib, start_logged, stop, wait_for
import bench_fleet
from bench_fleet import INSTANCES, cpu_seconds, tree_cpu_seconds

DAEMONS = 4  # of each kind: each serves a quarter of its half as modules (sessions are forked)
PAYLOAD = ("; 10 KB of pool settings\n" + "pm.max_children = 50\n" * 480)[:10240]


def raise_limits(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8 * n + 1024)), hard))


def arrival_times(modules, t0, timeout=120):
    """Seconds after t0 at which each module held the change (polled)."""
    want = PAYLOAD.encode()
    left, times = set(modules), {}
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        for m in list(left):
            try:
                with open(os.path.join(m, "change.conf"), "rb") as f:
                    if f.read() == want:
                        times[m] = time.monotonic() - t0
                        left.discard(m)
            except FileNotFoundError:
                pass
    if left:
        raise TimeoutError(f"{len(left)} of {len(modules)} modules never got the change")
    return sorted(times.values())


def report(kind, times):
    out(f"thousand.{kind}.p50_seconds", f"{percentile(times, 0.5):.3f}")
    out(f"thousand.{kind}.p99_seconds", f"{percentile(times, 0.99):.3f}")
    out(f"thousand.{kind}.max_seconds", f"{times[-1]:.3f}")


def ours(base, n):
    src = os.path.join(base, "src")
    os.makedirs(src)
    half = n // 2
    push = [os.path.join(base, f"push{i}") for i in range(half)]
    dial = [os.path.join(base, f"dial{i}") for i in range(n - half)]
    for d in push + dial:
        os.makedirs(d)
    secrets = os.path.join(base, "dial.secrets")
    with open(secrets, "w") as f:
        f.write("".join(f"d{i}:secret{i}\n" for i in range(len(dial))))
    os.chmod(secrets, 0o600)
    for i in range(len(dial)):
        with open(os.path.join(base, f"d{i}.secret"), "w") as f:
            f.write(f"secret{i}\n")
        os.chmod(os.path.join(base, f"d{i}.secret"), 0o600)
    daemons, ports = [], []
    try:
        for k in range(DAEMONS):
            script = os.path.join(base, f"push{k}.lua")
            with open(script, "w") as f:
                f.write(f'settings {{ listen = "127.0.0.1:0", max_connections = {n}, max_startups = "{n}", '
                        f'per_source_startups = {n} }}\n')
                for i in range(k, half, DAEMONS):
                    f.write(f'module "m{i}" {{ path = "{push[i]}" }}\n')
            serve, listening = start_logged(["serve", script, "--log-level", "notice"],
                                            os.path.join(base, f"push{k}.log"), r"listening on 127\.0\.0\.1:(\d+)")
            daemons.append(serve)
            ports.append(int(listening.group(1)))
        targets = [f'"runner://127.0.0.1:{ports[i % DAEMONS]}/m{i}"' for i in range(half)]
        targets += [f'"dial://d{i}/m{i}"' for i in range(len(dial))]
        with open(os.path.join(base, "p.lua"), "w") as f:
            f.write(f'settings {{ state_dir = "{base}/state", listen = "127.0.0.1:0", dial_secrets = "{secrets}", '
                    f'max_startups = "{n}", per_source_startups = {n} }}\n'
                    f'pipeline "p" {{ source = "{src}", to = {{ {", ".join(targets)} }}, delay = 0, delete = true }}\n')
        run, listening = start_logged(["run", os.path.join(base, "p.lua"), "--log-level", "notice"],
                                      os.path.join(base, "run.log"), r"dial-in receivers on 127\.0\.0\.1:(\d+)")
        try:
            port = int(listening.group(1))
            for k in range(DAEMONS):
                script = os.path.join(base, f"dial{k}.lua")
                with open(script, "w") as f:
                    for i in range(k, len(dial), DAEMONS):
                        f.write(f'module "m{i}" {{ path = "{dial[i]}", upstream = {{ url = "runner://127.0.0.1:{port}/p", '
                                f'name = "d{i}", secret_file = "{base}/d{i}.secret" }} }}\n')
                daemons.append(subprocess.Popen([RUNNER, "serve", script, "--log-level", "warning"], env=ENV,
                                                stdout=subprocess.DEVNULL,
                                                stderr=open(os.path.join(base, f"dial{k}.log"), "w")))
            # Every host synced once (the dialers connected): the change then goes to all of them.
            with open(os.path.join(src, "first.conf"), "w") as f:
                f.write("first\n")
            if not wait_for(lambda: all(os.path.exists(os.path.join(m, "first.conf")) for m in push + dial), 300):
                raise TimeoutError("not every host synced the first file")
            time.sleep(2)  # quiet: the status of the first round settles
            cpu = cpu_seconds(run.pid)
            receivers = sum(tree_cpu_seconds(d.pid) for d in daemons)
            t0 = time.monotonic()
            with open(os.path.join(src, "change.conf"), "w") as f:
                f.write(PAYLOAD)
            times = arrival_times(push + dial, t0)
            report("runner", times)
            out("thousand.runner.sender_cpu_seconds", f"{cpu_seconds(run.pid) - cpu:.3f}")
            # Where the rest of the time goes: the thousand sessions, on the same two cores.
            receivers = sum(tree_cpu_seconds(d.pid) for d in daemons) - receivers
            out("thousand.runner.receivers_cpu_seconds", f"{receivers:.3f}")
            out("thousand.runner.sender_peak_rss_kib", rss_kib(run.pid))
            return times
        finally:
            stop(run)
    finally:
        for d in daemons:
            stop(d)


def theirs(base, n):
    def measured(src, modules, pid, rsyncd):
        cpu, receivers = cpu_seconds(pid), tree_cpu_seconds(rsyncd)
        t0 = time.monotonic()
        with open(os.path.join(src, "change.conf"), "w") as f:
            f.write(PAYLOAD)
        times = arrival_times(modules, t0, timeout=600)
        report("lsyncd", times)
        # lsyncd's own and its rsync clients' (reaped children); the daemon's forks apart.
        out("thousand.lsyncd.sender_cpu_seconds", f"{cpu_seconds(pid) - cpu:.3f}")
        out("thousand.lsyncd.receivers_cpu_seconds", f"{tree_cpu_seconds(rsyncd) - receivers:.3f}")
        out("thousand.lsyncd.sender_peak_rss_kib", rss_kib(pid))
        return times
    # lsyncd's own default spawns at most one rsync at a time; 64 at once is what 2 cores bear.
    return bench_fleet.theirs(base, n, measured=measured, max_processes=64, ready_timeout=900)


def floor(base, n, binary):
    def measured(src, modules):
        t0 = time.monotonic()
        with open(os.path.join(src, "change.conf"), "w") as f:
            f.write(PAYLOAD)
        times = arrival_times(modules, t0)
        report("floor", times)
        return times
    return bench_fleet.floor(base, n, binary, measured=measured, spread=1100)


def bench_thousand(work, n=1000):
    raise_limits(n)
    old = open(INSTANCES).read().strip()
    with open(INSTANCES, "w") as f:
        f.write(str(max(int(old), 2 * n + 256)))
    try:
        mine = ours(os.path.join(work, "thousand-runner"), n)
        theirs_times = theirs(os.path.join(work, "thousand-lsyncd"), n)
        out("thousand.ratio.p99_vs_lsyncd", f"{percentile(mine, 0.99) / percentile(theirs_times, 0.99):.3f}")
        floor_times = floor(os.path.join(work, "thousand-floor"), n, floor_binary(work))
        out("thousand.ratio.p99_vs_floor", f"{percentile(mine, 0.99) / percentile(floor_times, 0.99):.3f}")
    finally:
        with open(INSTANCES, "w") as f:
            f.write(old)
