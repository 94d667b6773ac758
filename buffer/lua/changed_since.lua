#!lua flags=no-writes
-- The states of a post's comments changed at or after ARGV[1] (ms), oldest
-- change first: KEYS[1] chgt (by change time), KEYS[2] chg (states).
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')
if #ids == 0 then
  return {}
end
local out = {}
local states = redis.call('HMGET', KEYS[2], unpack(ids))
for j = 1, #states do
  if states[j] then
    out[#out + 1] = states[j]
  end
end
return out
