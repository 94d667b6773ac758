#!lua
-- Locks or unlocks a post, and if that changed anything, tells its readers
-- on every node and logs the action: KEYS[1] lock:<post>, KEYS[2] the
-- audit log of the post's shard, KEYS[3] slow:<post>; ARGV[1] "1" lock,
-- "0" unlock, ARGV[2] the lock's value ({by, at}), ARGV[3] the post's
-- channel, ARGV[4] the post id, ARGV[5] the audit entry, ARGV[6] entries
-- kept in the audit log. Returns 1 if the lock changed, else 0.
-- Published on the post's channel, the message is in the post's order:
-- after every comment appended before the lock, before none after it. It
-- carries the post's whole state (locked, slowMode).
local changed
if ARGV[1] == '1' then
  changed = redis.call('SET', KEYS[1], ARGV[2], 'NX') and 1 or 0
else
  changed = redis.call('DEL', KEYS[1])
end
if changed == 1 then
  local slow = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
  local msg = cjson.encode({postInfo = {postId = ARGV[4], locked = ARGV[1] == '1', slowMode = slow}})
  redis.call('SPUBLISH', ARGV[3], msg)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'entry', ARGV[5])
end
return changed
