#!lua flags=allow-oom
-- Records the endpoint's batch under its lease: KEYS[1] lease, KEYS[2]
-- batch; ARGV[1] token, then field, value pairs (HSET). Fails NOTLEASE
-- when the token is no longer the lease.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('NOTLEASE webhook lease lost')
end
redis.call('HSET', KEYS[2], unpack(ARGV, 2))
return 1
