-- A receiver: what each host of samples/php_env.lua runs (runner serve, as the unit
-- runner-serve@NAME does with /etc/runner/NAME.lua). Each batch is staged beside the pool
-- directory, renamed in, checked by php-fpm -t (a refusal rolls it back before php-fpm
-- sees it), then php-fpm is reloaded once and asked for its ping.
--
--   runner check samples/receiver.lua
--   runner serve samples/receiver.lua
--   runner keys receiver          (every key of this file)

local phpfpm = require "phpfpm"

settings { listen = "0.0.0.0:8730", log = "info" }

module "fpm" {
  path = "/etc/php/8.2/fpm/pool.d",
  -- With the sender's auth = { user = "sync", secret_file = ... }:
  -- auth_users = { "sync" }, secrets = "/etc/runner/secrets",   -- "sync:SECRET" lines, mode 0600
  hosts_allow = { "10.0.0.0/8", "127.0.0.1" },
  group = "www-data",                      -- env files readable by PHP's pools, whatever was sent
  on_sync = {
    phpfpm.reload { service = "php8.2-fpm", check_address = "127.0.0.1:9001", check_script = "/ping" },
    runner.exec { argv = { "/usr/bin/logger", "-t", "runner", "pool.d updated" } },
  },
}
