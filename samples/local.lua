-- The sample pipeline: watch samples/fpm.d (relative paths are relative to this
-- file) and mirror it into a local directory, dropping editor and rsync temp files.
--
--   runner check samples/local.lua
--   runner run samples/local.lua --dry-run
--   runner run samples/local.lua

local tempfiles = require "tempfiles"

settings { log = "info" }

group "local" { "file:///tmp/runner-demo/fpm.d" }

pipeline "php-env" {
  source = "fpm.d",
  ignore = { tempfiles.all, "*.bak", "/drafts/", function(path) return path:find("%.orig$") end },
  delay  = 0.2,
  to     = { "local" },
  delete = true,
  after  = function(host, result)
    if result.status == "applied" then
      runner.log("notice", "synced to " .. host .. ": " .. result.written .. " written, " .. result.deleted .. " deleted")
    end
  end,
}
