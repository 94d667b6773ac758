#!lua flags=allow-oom
-- Ends the endpoint's batch under its lease: moves the cursor, forgets the
-- batch and, when it was given up, dead-letters it. KEYS[1] lease, KEYS[2]
-- cursor, KEYS[3] batch, KEYS[4] dead; ARGV[1] token, ARGV[2] the new
-- cursor, ARGV[3] the dead letter ("" = delivered), ARGV[4] dead letters
-- kept. Fails NOTLEASE when the token is no longer the lease.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('NOTLEASE webhook lease lost')
end
if ARGV[3] ~= '' then
  redis.call('RPUSH', KEYS[4], ARGV[3])
  redis.call('LTRIM', KEYS[4], -tonumber(ARGV[4]), -1)
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[3])
return 1
