#!lua flags=no-writes
-- A comment's state: changed lately (KEYS[2] chg), else among the post's
-- recent comments (KEYS[1] recent), newest first. ARGV[1] its id.
local s = redis.call('HGET', KEYS[2], ARGV[1])
if s then
  return s
end
local needle = '"_id":"' .. ARGV[1] .. '"'
local stop = redis.call('LLEN', KEYS[1]) - 1
while stop >= 0 do
  local start = math.max(0, stop - 31)
  local items = redis.call('LRANGE', KEYS[1], start, stop)
  for j = #items, 1, -1 do
    if string.find(items[j], needle, 1, true) then
      return items[j]
    end
  end
  stop = start - 1
end
return false
