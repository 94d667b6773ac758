#!lua
-- Sets a post's slow mode (seconds between two comments of a user; 0 off),
-- and if that changed it, tells its readers on every node and logs the
-- action: KEYS[1] slow:<post>, KEYS[2] the audit log of the post's shard,
-- KEYS[3] lock:<post>; ARGV[1] seconds, ARGV[2] the post's channel,
-- ARGV[3] the post id, ARGV[4] the audit entry, ARGV[5] entries kept in
-- the audit log. Returns 1 if it changed, else 0.
local old = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local new = tonumber(ARGV[1])
if old == new then
  return 0
end
if new == 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
local msg = cjson.encode({postInfo = {postId = ARGV[3], locked = redis.call('EXISTS', KEYS[3]) == 1, slowMode = new}})
redis.call('SPUBLISH', ARGV[2], msg)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'entry', ARGV[4])
return 1
