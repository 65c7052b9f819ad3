-- The seed scenario: one fpm.d tree pushed to functional-test and regression-test php-fpm
-- hosts that need different values in the same pool file, each group's canary first: a
-- pool file php-fpm -t refuses stops at the canary, and the rest of its group never sees it.
--
--   runner check samples/php_env.lua
--   runner render samples/php_env.lua www.conf --group regression
--   runner run samples/php_env.lua
--
-- Each host runs `runner serve` with a module "fpm" whose on_sync reloads php-fpm
-- (samples/receiver.lua). make demo runs four of them on 127.0.0.1 from a copy of this
-- file with the addresses and ports replaced.

local tempfiles = require "tempfiles"

-- The status page, /status, /metrics and /healthz; `runner status samples/php_env.lua` reads it.
settings { log = "info", status = "127.0.0.1:9873" }

group "functional" {
  "runner://web-f1.example:8730/fpm", "runner://web-f2.example:8730/fpm",
  vars = { APP_MODE = "functional", DB = "db-functional.internal" },
}
group "regression" {
  "runner://web-r1.example:8730/fpm", "runner://web-r2.example:8730/fpm",
  vars = { APP_MODE = "regression", DB = "db-regression.internal" },
}
-- Each host's own values beat its group's: here, the port its pool listens on.
host "runner://web-f1.example:8730/fpm" { vars = { PORT = 9001 } }
host "runner://web-f2.example:8730/fpm" { vars = { PORT = 9002 } }
host "runner://web-r1.example:8730/fpm" { vars = { PORT = 9003 } }
host "runner://web-r2.example:8730/fpm" { vars = { PORT = 9004 } }

pipeline "php-env" {
  source  = "php_env",
  ignore  = { tempfiles.all, "*.bak" },
  render  = { "*.conf" },
  to      = { "functional", "regression" },
  rollout = "canary",
  delete  = true,
  guard   = { max_deleted = "50%" },  -- a mass delete waits for runner approve
  delay   = 0.2,
  timeout = 10,
}
