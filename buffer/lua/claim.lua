#!lua flags=allow-oom
-- Returns the in-flight batch if there is one (left by a holder that died),
-- else moves up to ARGV[2] entries from buf to inflight.
--   KEYS[1] buf, KEYS[2] inflight, KEYS[3] lease; ARGV[1] token, ARGV[2] max
if redis.call('GET', KEYS[3]) ~= ARGV[1] then
  return redis.error_reply('NOTLEASE lease lost')
end
if redis.call('LLEN', KEYS[2]) > 0 then
  return redis.call('LRANGE', KEYS[2], 0, -1)
end
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
if #items == 0 then
  return items
end
redis.call('LTRIM', KEYS[1], #items, -1)
for i = 1, #items, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(items, i, math.min(i + 999, #items)))
end
return items
