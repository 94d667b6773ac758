#!lua flags=allow-oom
-- Takes a shard's lease if it is free: KEYS[1] lease, KEYS[2] leasegen;
-- ARGV[1] owner, ARGV[2] ttl (ms). Returns the new fencing token, or false.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return false
end
local token = ARGV[1] .. '/' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return token
