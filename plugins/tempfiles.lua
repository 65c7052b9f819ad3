-- Ignore rules for the temporary files that real tools write next to the files
-- they replace. Each set is a list of gitignore-style patterns with a name, so that
-- `runner explain` and `--dry-run` can say which set dropped a path.
--
--   local tempfiles = require "tempfiles"
--   pipeline "x" { ignore = { tempfiles.all, "*.bak" }, ... }

local M = {}

local function set(name, patterns)
  patterns.name = "tempfiles." .. name
  M[name] = patterns
  return patterns
end

-- Patterns are written out in full (mkstemp's XXXXXX is six [A-Za-z0-9]) so that
-- explanations can point at their line here.

-- rsync writes ".name.XXXXXX" beside the file, then renames it over;
-- --partial-dir defaults to ".~tmp~".
set("rsync", {
  ".*.[A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9]",
  ".~tmp~/",
})

-- vim: swap files ".name.swp" (.swo, .swn, ... down to .swa), ".name.swx",
-- the "4913" probe it creates to test that the directory is writable,
-- and "name~" backups.
set("vim", {
  ".*.sw[a-p]",
  ".*.swx",
  "4913",
  "*~",
})

-- emacs: auto-save "#name#", lock links ".#name", backups "name~".
set("emacs", {
  "#*#",
  ".#*",
  "*~",
})

-- sed -i writes "sedXXXXXX" in the file's directory, then renames it over.
set("sed", {
  "sed[A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9]",
})

-- gedit (GIO's g_file_replace) writes ".goutputstream-XXXXXX".
set("gedit", {
  ".goutputstream-[A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9]",
})

-- JetBrains IDEs with "safe write": "name___jb_tmp___" and "name___jb_old___".
set("jetbrains", {
  "*___jb_tmp___",
  "*___jb_old___",
})

-- kate (KTextEditor): swap files ".name.kate-swp", and "name~" backups.
set("kate", {
  ".*.kate-swp",
  "*.kate-swp",
  "*~",
})

M.all = { name = "tempfiles.all", M.rsync, M.vim, M.emacs, M.sed, M.gedit, M.jetbrains, M.kate }

return M
