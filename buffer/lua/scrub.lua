#!lua
-- Replaces entries of a list (a post's event log) by their scrubbed form,
-- found by value, so an entry trimmed or moved meanwhile is never
-- mistaken for another.
--   KEYS[1] the list
--   ARGV pairs: 2k-1 an entry as read, 2k its replacement
local with = {}
for i = 1, #ARGV, 2 do
  with[ARGV[i]] = ARGV[i + 1]
end
local items = redis.call('LRANGE', KEYS[1], 0, -1)
local n = 0
for j = 1, #items do
  local new = with[items[j]]
  if new then
    redis.call('LSET', KEYS[1], j - 1, new)
    n = n + 1
  end
end
return n
