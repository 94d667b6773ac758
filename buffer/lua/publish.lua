#!lua
-- Write-through: adds a stored comment to its post's recent list and
-- publishes it. KEYS[1] recent; ARGV[1] recent length, ARGV[2] TTL (ms),
-- ARGV[3] the comment, ARGV[4] the post's channel.
redis.call('RPUSH', KEYS[1], ARGV[3])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SPUBLISH', ARGV[4], ARGV[3])
return 1
