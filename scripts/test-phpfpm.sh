#!/usr/bin/env bash
# Starts a php-fpm of its own (Debian's php-fpm package) for the tests and the demo:
#   scripts/test-phpfpm.sh DIR PORT
# writes DIR/php-fpm.conf (pid file, error log, daemonize), a pool directory
# DIR/pool.d with one pool "www" on 127.0.0.1:PORT (ping.path = /ping, and
# env[APP_MODE] = initial) unless one is there already, and DIR/www/env.php, which
# prints getenv('APP_MODE'); starts php-fpm as root (-R), waits until the pool answers,
# and prints the php-fpm binary. Stop it with: kill $(cat DIR/php-fpm.pid)
set -euo pipefail
dir=$1
port=$2
bin=$(ls /usr/sbin/php-fpm* 2>/dev/null | sort -V | tail -1 || true)
[[ -x "$bin" ]] || { echo "test-phpfpm: no /usr/sbin/php-fpm*: apt-get install php-fpm" >&2; exit 1; }
mkdir -p "$dir/pool.d" "$dir/www"
cat > "$dir/php-fpm.conf" <<CONF
[global]
pid = $dir/php-fpm.pid
error_log = $dir/php-fpm.log
daemonize = yes
include = $dir/pool.d/*.conf
CONF
if [[ ! -e "$dir/pool.d/www.conf" ]]; then
  cat > "$dir/pool.d/www.conf" <<CONF
[www]
listen = 127.0.0.1:$port
pm = static
pm.max_children = 2
ping.path = /ping
clear_env = yes
env[APP_MODE] = initial
CONF
fi
printf '<?php echo getenv("APP_MODE"), "\\n";\n' > "$dir/www/env.php"
# No descriptor of ours goes with it: a daemon holding our caller's output pipe (or
# any pipe it leaked to us) would keep that caller waiting for EOF forever.
(
  for fd in /proc/self/fd/*; do
    n=${fd##*/}
    if ((n > 2)); then eval "exec $n>&-" 2>/dev/null || true; fi
  done
  exec "$bin" -R --fpm-config "$dir/php-fpm.conf" </dev/null >/dev/null 2>&1
) || { cat "$dir/php-fpm.log" >&2; exit 1; }
for _ in $(seq 100); do
  if [[ -s "$dir/php-fpm.pid" ]] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "$bin"
    exit 0
  fi
  sleep 0.05
done
echo "test-phpfpm: php-fpm did not come up; its log:" >&2
cat "$dir/php-fpm.log" >&2 || true
exit 1
