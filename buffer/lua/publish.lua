#!lua
-- Write-through: adds a stored comment to its post's recent list and
-- publishes it. KEYS[1] recent, KEYS[2] log; ARGV[1] recent length,
-- ARGV[2] TTL (ms), ARGV[3] the comment, ARGV[4] the post's channel,
-- ARGV[5] log length.
redis.call('RPUSH', KEYS[1], ARGV[3])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SPUBLISH', ARGV[4], ARGV[3])
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
