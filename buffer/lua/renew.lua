#!lua flags=allow-oom
-- Extends the lease of the current token: KEYS[1] lease; ARGV[1] token,
-- ARGV[2] ttl (ms).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
