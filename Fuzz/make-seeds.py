#!/usr/bin/env python3
"""Writes the named seeds of Fuzz/corpus/ (run from anywhere; needs .build/debug/runner for
the valid signature and delta). Each seed is named after the case it holds; the corpus is
checked in, and `make fuzz` adds each crash it finds beside them as crash-<sha1>."""
import os, struct, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "Fuzz", "corpus")
RUNNER = os.path.join(ROOT, ".build", "debug", "runner")


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def string(s):
    b = s if isinstance(s, bytes) else s.encode()
    return varint(len(b)) + b


u8 = lambda v: struct.pack("<B", v)
u32 = lambda v: struct.pack("<I", v)
u64 = lambda v: struct.pack("<Q", v)


def frame(ftype, payload):
    return u32(len(payload) + 1) + u8(ftype) + payload


def splitmix(count, seed):
    """TestSupport's deterministicBytes: FuzzDelta's basis and new file."""
    mask = (1 << 64) - 1
    state = (seed + 0x9E3779B97F4A7C15) & mask
    out = bytearray()
    while len(out) < count:
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
        out += struct.pack("<Q", z)[: count - len(out)]
    return bytes(out)


owner = varint(33) + varint(33)
mode_times = u32(0o100644) + u64(1_700_000_000) + u32(5) + owner
entry = lambda path, kind=0, link=b"": string(path) + u8(kind) + u32(0o644) + owner + u64(12) + u64(1_700_000_000) + u32(0) + string(link)
action = string("reload") + string("ok") + string("reloaded") + u8(1) + u32(0) + string("")
result = lambda actions=1: u64(7) + u8(0) + varint(3) + varint(1) + string("") + varint(actions) + action * min(actions, 2)

# Each message type, well formed (type byte, payload).
MESSAGES = {
    "hello": (0x01, u32(0x50524E52) + u32(3) + u32(1 << 20) + string("php_env") + string("sync") + u64(7)),
    "welcome": (0x02, u32(3) + u32(1 << 20) + u32(4096)),
    "error": (0x03, string("access denied")),
    "bye": (0x04, b""),
    "challenge": (0x05, bytes(range(32))),
    "auth": (0x06, bytes(range(32, 64))),
    "scan": (0x10, varint(2) + string("fpm.d/www.conf") + string("")),
    "entry": (0x11, entry("fpm.d/www.conf")),
    "entry-symlink": (0x11, entry("current", 2, b"releases/1")),
    "scan-end": (0x12, b""),
    "list": (0x13, varint(2) + string("") + string("fpm.d")),
    "signatures": (0x20, varint(1) + string("big.bin")),
    "signature-data": (0x21, varint(0) + b"RNSG\x02"),
    "signature-end": (0x22, varint(0) + u8(1)),
    "batch": (0x30, u64(7)),
    "directory": (0x31, string("fpm.d") + u32(0o40755) + u64(1_700_000_000) + u32(0) + owner),
    "file": (0x32, string("fpm.d/www.conf") + mode_times + u8(1)),
    "data": (0x33, b"RNDL\x02\x00"),
    "file-end": (0x34, u8(1)),
    "symlink": (0x35, string("current") + string("releases/1") + u64(1_700_000_000) + u32(0) + owner),
    "delete": (0x36, string("old.conf")),
    "attributes": (0x37, string("fpm.d/www.conf") + mode_times),
    "commit": (0x38, b""),
    "result": (0x39, result()),
    "redo": (0x3A, varint(1) + string("fpm.d/www.conf")),
    "moved": (0x3B, string("b.conf") + string("a.conf") + mode_times),
    "actions": (0x40, b""),
    "action-list": (0x41, varint(2) + string("exec: php-fpm -t") + string("reload php-fpm")),
    "read": (0x42, varint(1) + string("fpm.d/www.conf")),
    "content": (0x43, varint(0) + u8(1) + b"[www]\n"),
    "sums": (0x44, u64(99) + varint(1) + string("big.bin")),
    "sum": (0x45, varint(0) + u8(1) + varint(32 << 10) + bytes(16) + bytes(8 * 4)),
    "sum-absent": (0x45, varint(0) + u8(0)),
    "owners": (0x46, varint(1) + varint(33) + string("www-data") + varint(1) + varint(33) + string("www-data")),
}
# Lies and overflows, each named after its case.
HOSTILE = {
    "string-length-0xffffffff": (0x36, varint(0xFFFFFFFF) + b"x"),
    "string-length-2^64-1": (0x36, varint((1 << 64) - 1)),
    "varint-11-bytes": (0x36, b"\xff" * 10 + b"\x01"),
    "varint-overflows-64-bits": (0x36, b"\xff" * 9 + b"\x02"),
    "scan-count-2^63": (0x10, varint(1 << 63) + string("a")),
    "scan-count-over-limit": (0x10, varint(100_001) + string("a")),
    "scan-count-more-than-sent": (0x10, varint(3) + string("a")),
    "list-count-over-limit": (0x13, varint(100_001) + string("a")),
    "entry-path-dotdot": (0x11, entry("../etc/passwd")),
    "entry-path-nul": (0x11, entry(b"a\x00b")),
    "entry-path-absolute": (0x11, entry("/etc/passwd")),
    "entry-size-2^64-1": (0x11, string("a") + u8(0) + u32(0o644) + owner + u64((1 << 64) - 1) + u64(0) + u32(0) + string("")),
    "entry-owner-over-32-bits": (0x11, string("a") + u8(0) + u32(0o644) + varint(1 << 32) + varint(0) + u64(1) + u64(0) + u32(0) + string("")),
    "owners-count-over-limit": (0x46, varint(4097) + varint(1) + string("u")),
    "owners-id-2^32-1": (0x46, varint(1) + varint(0xFFFFFFFF) + string("u") + varint(0)),
    "owners-name-over-256": (0x46, varint(1) + varint(1) + string("u" * 257) + varint(0)),
    "entry-kind-unknown": (0x11, entry("a", 9)),
    "entry-nanoseconds-over-1e9": (0x11, string("a") + u8(0) + u32(0o644) + owner + u64(1) + u64(0) + u32(0xFFFFFFFF) + string("")),
    "signature-data-index-2^63": (0x21, varint(1 << 63) + b"x"),
    "signature-end-index-huge": (0x22, varint((1 << 64) - 1) + u8(1)),
    "sum-block-length-zero": (0x45, varint(0) + u8(1) + varint(0) + bytes(16)),
    "sum-block-length-not-power-of-two": (0x45, varint(0) + u8(1) + varint(40000) + bytes(16)),
    "sum-blocks-over-limit": (0x45, varint(0) + u8(1) + varint(32 << 10) + bytes(16) + bytes(8 * 70000)),
    "sum-truncated-block": (0x45, varint(0) + u8(1) + varint(32 << 10) + bytes(16) + bytes(7)),
    "result-status-unknown": (0x39, u64(7) + u8(9) + varint(0) + varint(0) + string("") + varint(0)),
    "result-actions-2^32": (0x39, result(1 << 32)),
    "result-actions-more-than-sent": (0x39, result(5)),
    "result-written-2^64-1": (0x39, u64(7) + u8(0) + varint((1 << 64) - 1) + varint(0) + string("") + varint(0)),
    "content-over-limit": (0x43, varint(0) + u8(1) + bytes(256 * 1024 + 1)),
    "content-state-unknown": (0x43, varint(0) + u8(7)),
    "challenge-short": (0x05, bytes(31)),
    "hello-bad-magic": (0x01, u32(0) + u32(3) + u32(1 << 20) + string("m") + string("u") + u64(0)),
    "hello-module-over-64": (0x01, u32(0x50524E52) + u32(3) + u32(1 << 20) + string("m" * 65) + string("u") + u64(0)),
    "redo-count-2^32": (0x3A, varint(1 << 32)),
    "action-list-string-over-4096": (0x41, varint(1) + string("x" * 4097)),
    "trailing-bytes": (0x04, b"\x00"),
    "non-utf8-name": (0x36, string(b"caf\xe9.conf")),
    "private-use-name": (0x36, string("\uf7e9.conf")),
}


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def wire():
    for name, (t, p) in {**MESSAGES, **HOSTILE}.items():
        write("message", name, u8(t) + p)
        write("frame", name, frame(t, p))
    write("message", "unknown-type", b"\xff")
    write("message", "empty", b"")
    write("frame", "empty", b"")
    write("frame", "length-0xffffffff", u32(0xFFFFFFFF) + b"\x01")
    write("frame", "length-zero", u32(0))
    write("frame", "length-over-limit", u32((1 << 20) + 257) + b"\x33")
    write("frame", "unknown-type", frame(0xFF, b""))
    write("frame", "length-beyond-the-end", u32(100) + b"\x36" + string("a"))
    session = b"".join(frame(*MESSAGES[n]) for n in ["welcome", "entry", "scan-end", "result"])
    write("frame", "session", session)
    for cut in range(1, len(session)):
        write("frame", f"session-truncated-at-{cut}", session[:cut])


def delta():
    basis, new = splitmix(48 * 1024, 1), splitmix(48 * 1024, 1)[4096:20480] + splitmix(8 * 1024, 2)
    with tempfile.TemporaryDirectory() as tmp:
        paths = {n: os.path.join(tmp, n) for n in ["basis", "new", "sig", "delta", "same", "small-sig"]}
        open(paths["basis"], "wb").write(basis)
        open(paths["new"], "wb").write(new)
        run = lambda *a: subprocess.run([RUNNER, "delta", *a], check=True, capture_output=True)
        run("signature", paths["basis"], paths["sig"])
        run("delta", paths["sig"], paths["new"], paths["delta"])
        run("delta", paths["sig"], paths["basis"], paths["same"])
        run("signature", "--block-length", "256", paths["basis"], paths["small-sig"])
        sig, dl, same, small = (open(paths[n], "rb").read() for n in ["sig", "delta", "same", "small-sig"])
    write("signature", "valid-basis", sig)
    write("signature", "valid-256-byte-blocks", small)
    header = lambda strong, block, size, count: b"RNSG\x02" + u8(strong) + b"\x00\x00" + u32(block) + u64(size) + u32(count) + u64(0)
    write("signature", "empty", b"")
    write("signature", "bad-magic", b"XXXX" + sig[4:])
    write("signature", "block-count-2^22-then-ends", header(8, 1, 1 << 22, 1 << 22))
    write("signature", "block-count-over-2^22", header(8, 1, (1 << 22) + 1, (1 << 22) + 1))
    write("signature", "count-times-length-overflow", header(16, 1 << 20, (1 << 40), 1 << 20))
    write("signature", "count-does-not-fit-size", header(8, 1024, 4096, 5))
    write("signature", "block-length-zero", header(8, 0, 0, 0))
    write("signature", "strong-length-255", header(255, 1024, 1024, 1))
    write("signature", "file-size-negative", header(8, 1024, (1 << 64) - 1, 0))
    write("signature", "all-weak-sums-equal", header(8, 64, 64 * 64, 64) + (u32(0x12345678) + bytes(8)) * 64)
    write("signature", "trailing-bytes", sig + b"\x00")
    for cut in [1, 5, 8, 12, 20, 24, 32, 33, 40]:
        write("signature", f"truncated-at-{cut}", sig[:cut])

    write("delta", "valid-stream", b"\x00" + dl)
    write("delta", "valid-over-basis", b"\x01" + dl)
    write("delta", "same-as-basis-over-basis", b"\x01" + same)
    dh = lambda block, size: b"RNDL\x02\x00" + varint(block) + varint(size) + u64(0)
    write("delta", "empty", b"")
    write("delta", "block-index-out-of-range", b"\x00" + dh(1024, 49152) + b"\x01" + varint(48) + varint(1))
    write("delta", "copy-count-overflow", b"\x00" + dh(1024, 49152) + b"\x01" + varint(1) + varint((1 << 64) - 1))
    write("delta", "copy-count-zero", b"\x00" + dh(1024, 49152) + b"\x01" + varint(0) + varint(0))
    write("delta", "literal-over-1MiB", b"\x00" + dh(1024, 49152) + b"\x02" + varint((1 << 20) + 1))
    write("delta", "literal-beyond-the-end", b"\x00" + dh(1024, 49152) + b"\x02" + varint(100) + b"abc")
    write("delta", "zstd-corrupt", b"\x00" + dh(1024, 49152) + b"\x03" + varint(10) + varint(4) + b"\x28\xb5\x2f\xfd")
    write("delta", "zstd-claims-more-than-it-holds", b"\x00" + dh(1024, 49152) + b"\x03" + varint(1 << 20) + varint(1 << 30))
    write("delta", "wrong-basis-size", b"\x00" + dh(1024, 4096) + b"\x00" + varint(0) + bytes(16))
    write("delta", "block-length-zero", b"\x00" + dh(0, 49152))
    write("delta", "block-count-over-2^22", b"\x00" + dh(1, 1 << 23))
    write("delta", "end-with-wrong-sum", b"\x00" + dh(1024, 49152) + b"\x01" + varint(0) + varint(48) + b"\x00" + varint(49152) + bytes(16))
    write("delta", "unknown-operation", b"\x00" + dh(1024, 49152) + b"\x09")
    write("delta", "trailing-bytes", b"\x00" + dl + b"\x00")
    for cut in [1, 4, 6, 8, 12, 20, 24, len(dl) // 2, len(dl) - 1]:
        write("delta", f"truncated-at-{cut}", b"\x00" + dl[:cut])


def text():
    write("secrets", "receiver-lines", b"sync:s3cret\n# comment\nops:other\n")
    write("secrets", "sender-secret", b"s3cret\n")
    write("secrets", "empty", b"")
    write("secrets", "user-twice", b"sync:a\nsync:b\n")
    write("secrets", "colon-only", b":\n")
    write("secrets", "crlf-and-tabs", b"\tsync:s3cret\r\n")
    write("secrets", "non-utf8", b"sync:\xff\xfe\n")
    write("glob", "star", b"*.conf\nfpm.d/www.conf")
    write("glob", "double-star", b"**/cache/**\na/b/cache/c/d")
    write("glob", "set", b"[!a-z]?.sw[po]\n1x.swp")
    write("glob", "anchored-directory", b"/build/\nbuild")
    write("glob", "many-stars", b"*a*a*a*a*a*a*a*a*a*a*a*b\n" + b"a" * 200)
    write("glob", "many-double-stars", b"**/a/**/a/**/a/**/a/**/b\n" + b"a/" * 60)
    write("glob", "unclosed-set", b"[abc\nb")
    write("glob", "escaped", b"\\*.conf\n*.conf")
    write("glob", "empty", b"")
    record = lambda t, c, pad=0: bytes([1, t, 0, 1, len(c) >> 8, len(c) & 0xFF, pad, 0]) + c + bytes(pad)
    end = record(3, bytes(8))
    write("fastcgi", "pong", record(6, b"Status: 200 OK\r\nContent-type: text/plain\r\n\r\npong") + record(6, b"") + end)
    write("fastcgi", "status-500-lf-only", record(6, b"Status: 500 Internal\n\nboom") + record(7, b"warning") + end)
    write("fastcgi", "padding", record(6, b"X: y\r\n\r\nbody", 7) + end)
    write("fastcgi", "refused", record(3, bytes([0, 0, 0, 0, 1, 0, 0, 0])))
    write("fastcgi", "end-short", record(3, b"\x00"))
    write("fastcgi", "bad-version", b"\x02" + end[1:])
    write("fastcgi", "length-beyond-the-end", bytes([1, 6, 0, 1, 0xFF, 0xFF, 0xFF, 0]) + b"x")
    write("fastcgi", "over-1MiB", record(6, b"x" * 65535) * 17 + end)
    write("fastcgi", "empty", b"")
    write("rsync-listing", "module", b"drwxr-xr-x          4,096 2026/12/01 06:20:23 .\n-rw-r--r--            120 2026/12/01 06:20:23 fpm.d/www.conf\nlrwxrwxrwx             10 2026/12/01 06:20:23 current -> releases/1\n")
    write("rsync-listing", "escaped-names", b"-rw-r--r--   1 2026/12/01 06:20:23 caf\\#351.conf\n-rw-r--r--   1 2026/12/01 06:20:23 a\\#12b\n")
    write("rsync-listing", "escape-truncated", b"-rw-r--r--   1 2026/12/01 06:20:23 a\\#3\n-rw-r--r-- 1 x y a\\#\n")
    write("rsync-listing", "escape-not-octal", b"-rw-r--r--   1 2026/12/01 06:20:23 a\\#999\n")
    write("rsync-listing", "short-lines", b"d\n-\nl  x -> \n")
    write("rsync-listing", "motd-and-errors", b"Welcome!\n@ERROR: auth failed on module php_env\n")
    write("rsync-listing", "empty", b"")
    write("dsl", "pipeline", b'settings { state_dir = "/tmp/x" }\npipeline "php_env" { from = "/tmp/src", to = { "file:///tmp/dst" }, ignore = { "*.swp" } }\n')
    write("dsl", "groups-and-render", b'group "functional" { hosts = { "runner://127.0.0.1:8730/fpm" }, vars = { APP_MODE = "functional" } }\npipeline "p" { from = "/tmp/src", to = { group "functional" }, render = { "*.conf" } }\n')
    write("dsl", "module", b'module "fpm" { path = "/tmp/m", hosts_allow = { "127.0.0.1" }, on_sync = { function() end } }\n')
    write("dsl", "endless-loop", b"while true do end\n")
    write("dsl", "endless-recursion", b"local function f() return 1 + f() end\nf()\n")
    write("dsl", "huge-string", b'local s = string.rep("x", 1 << 30)\n')
    write("dsl", "growing-table", b"local t = {}\nfor i = 1, 1e9 do t[i] = i end\n")
    write("dsl", "syntax-error", b"pipeline {{{\n")
    write("dsl", "error-object-table", b"error(setmetatable({}, { __tostring = function() error('x') end }))\n")
    write("dsl", "unknown-key", b'pipeline "p" { from = "/tmp/src", to = { "file:///tmp/d" }, rollout = "sometimes" }\n')
    write("dsl", "pipeline-without-body", b'pipeline "p"\n')
    write("dsl", "empty", b"")


if __name__ == "__main__":
    if not os.access(RUNNER, os.X_OK):
        sys.exit(f"make-seeds: build first (swift build): {RUNNER} is missing")
    wire()
    delta()
    text()
    for t in sorted(os.listdir(CORPUS)):
        print(f"{t}: {len(os.listdir(os.path.join(CORPUS, t)))} seeds")
