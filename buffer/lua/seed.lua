#!lua
-- Puts older comments, read from the database, in front of a post's
-- recent list, if its head is still the one the reader saw; a comment
-- changed lately is put in its state from KEYS[3] chg.
--   KEYS[1] recent, KEYS[2] complete, KEYS[3] chg
--   ARGV[1] head id seen ("" for an empty list), ARGV[2] recent length,
--   ARGV[3] TTL (ms), ARGV[4] 1 if the database has nothing older,
--   ARGV[5..] comments newest first
local head = redis.call('LINDEX', KEYS[1], 0)
local seen = ARGV[1]
if seen == '' then
  if head then return 0 end
else
  if not head or string.find(head, '"_id":"' .. seen .. '"', 1, true) == nil then return 0 end
end
for i = 5, #ARGV do
  local c = ARGV[i]
  local id = string.match(c, '"_id":"(%x+)"')
  local changed = id and redis.call('HGET', KEYS[3], id)
  if changed then
    c = changed
  end
  redis.call('LPUSH', KEYS[1], c)
end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
if ARGV[4] == '1' then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
end
-- The list must not expire before the complete flag.
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
