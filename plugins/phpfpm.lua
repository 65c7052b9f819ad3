-- php-fpm as a post-sync action of a receiver module:
--
--   local phpfpm = require "phpfpm"
--   module "fpm" { path = "/etc/php/8.2/fpm/pool.d",
--                  on_sync = { phpfpm.reload { service = "php8.2-fpm", check_address = "127.0.0.1:9000",
--                                              check_script = "/ping" } } }
--
-- After each batch: `php-fpm -t` with the running master's binary and --fpm-config
-- (a failure rolls the batch back before php-fpm sees it), one SIGUSR2, then a FastCGI
-- request to check_address for check_script (a pool's ping.path, or a PHP file); a
-- reload that fails puts the previous files back and reloads (or restarts) php-fpm.
--
-- Keys: binary, config (the --fpm-config file), pidfile, service (a Debian service
-- name, "php8.2-fpm", that fills in the three others), check_address ("host:port" or a
-- unix socket path of a pool), check_script, args (extra php-fpm arguments, e.g. {"-R"}),
-- timeout (seconds for each step, default 10).

local M = {}

-- Where Debian's php-fpm packages (php7.4-fpm ... php8.4-fpm) put things.
function M.debian(version)
  return {
    binary = "/usr/sbin/php-fpm" .. version,
    config = "/etc/php/" .. version .. "/fpm/php-fpm.conf",
    pidfile = "/run/php/php" .. version .. "-fpm.pid",
  }
end

-- The keys are runner's schema's (runner keys receiver): runner.action checks them, with
-- the nearest name for a misspelt one, at the line of the script that called reload.
function M.reload(options)
  local action = runner.action("phpfpm.reload", options or {}, 2)
  if action.service then
    local version = action.service:match("^php(%d+%.%d+)%-fpm$")
    if not version then
      error("phpfpm.reload: service '" .. action.service .. "' is not a Debian php-fpm service (php8.2-fpm)", 2)
    end
    for key, value in pairs(M.debian(version)) do
      if action[key] == nil then action[key] = value end
    end
  end
  if not action.pidfile then
    error("phpfpm.reload: set pidfile (or service = \"php8.2-fpm\")", 2)
  end
  return action
end

return M
