#!lua
-- Seeds the counts of a shard's posts that Redis does not count yet, from
-- the database's counts, if no batch of the shard was flushed meanwhile:
-- then the database holds exactly what was acked, and the shard's list
-- what was not (scripts.go: countsScript).
if (redis.call('GET', KEYS[3]) or '0') ~= ARGV[1] or redis.call('LLEN', KEYS[2]) > 0 then
  return false
end
local n = #KEYS - 3
local need, any = {}, false
for i = 1, n do
  if redis.call('EXISTS', KEYS[3 + i]) == 0 then
    need[ARGV[2 * i]] = i
    any = true
  end
end
if any then
  local sums = {}
  local size = redis.call('LLEN', KEYS[1])
  for start = 0, size - 1, 1000 do
    local items = redis.call('LRANGE', KEYS[1], start, start + 999)
    for _, e in ipairs(items) do
      local i = need[string.match(e, '"postId":"([^"]*)"') or '']
      if i then
        local d = 0
        if string.sub(e, 1, 6) == '{"op":' then
          -- A change record: its d, before its fields.
          local head = string.sub(e, 1, (string.find(e, ',"fields":', 1, true) or 1) - 1)
          d = tonumber(string.match(head, ',"d":(%-?%d+)') or '0')
        elseif not string.find(e, '"status":"pending"', 1, true) then
          d = 1
        end
        sums[i] = (sums[i] or 0) + d
      end
    end
  end
  for post, i in pairs(need) do
    redis.call('SET', KEYS[3 + i], tonumber(ARGV[1 + 2 * i]) + (sums[i] or 0))
  end
end
local out = {}
for i = 1, n do
  out[i] = redis.call('GET', KEYS[3 + i])
end
return out
