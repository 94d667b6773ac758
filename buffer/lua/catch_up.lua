#!lua flags=no-writes
-- What a post's readers may have missed, read at one moment: its recent
-- comments (KEYS[1] recent, oldest first), and the states of its comments
-- changed at or after ARGV[1] (ms), oldest change first (KEYS[2] chgt,
-- KEYS[3] chg).
local recent = redis.call('LRANGE', KEYS[1], 0, -1)
local changed = {}
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[1], '+inf')
if #ids > 0 then
  local states = redis.call('HMGET', KEYS[3], unpack(ids))
  for j = 1, #states do
    if states[j] then
      changed[#changed + 1] = states[j]
    end
  end
end
return {recent, changed}
