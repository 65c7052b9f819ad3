-- The seed scenario: one fpm.d tree pushed to functional-test and regression-test php-fpm
-- hosts that need different values in the same pool file, each group's canary first: a
-- pool file php-fpm -t refuses stops at the canary, and the rest of its group never sees it.
--
--   runner check samples/php_env.lua
--   runner render samples/php_env.lua www.conf --group regression
--   runner run samples/php_env.lua
--
-- The hosts run `runner serve` with a module "fpm" whose on_sync is phpfpm.reload (see
-- plugins/phpfpm.lua). make demo runs four of them on 127.0.0.1: RUNNER_DEMO_* name them.

local tempfiles = require "tempfiles"

local function target(name, default) return os.getenv("RUNNER_DEMO_" .. name) or default end

-- The status page, /status, /metrics and /healthz; `runner status samples/php_env.lua` reads it.
settings { log = "info", status = os.getenv("RUNNER_DEMO_STATUS") or "127.0.0.1:9873" }

group "functional" {
  target("F1", "runner://web-f1.example:8730/fpm"), target("F2", "runner://web-f2.example:8730/fpm"),
  vars = { APP_MODE = "functional", DB = "db-functional.internal" },
}
group "regression" {
  target("R1", "runner://web-r1.example:8730/fpm"), target("R2", "runner://web-r2.example:8730/fpm"),
  vars = { APP_MODE = "regression", DB = "db-regression.internal" },
}
-- Each host's own values beat its group's: here, the port its pool listens on.
for _, name in ipairs({ "F1", "F2", "R1", "R2" }) do
  host (target(name, "runner://web-" .. name:lower() .. ".example:8730/fpm")) {
    vars = { PORT = target("PORT_" .. name, "9000") },
  }
end

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
