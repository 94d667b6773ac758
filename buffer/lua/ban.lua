#!lua
-- Puts or lifts a user's ban, drops the bans that ended (hash fields do
-- not expire), and tells every node, in one step numbered by the list's
-- sequence, so that a node applies the changes of a user in order whatever
-- the order they reach it in.
--
-- Every put, and a lift of a ban that held, is added to the audit log in
-- the same step.
--
-- KEYS[1] bans (hash: user id -> {reason, by, at, until}, times in ms,
-- until 0 = until lifted), KEYS[2] bans:seq (counter), KEYS[3] the bans'
-- audit log (stream); ARGV[1] "put" or "lift", ARGV[2] the user id,
-- ARGV[3] the ban (put), ARGV[4] now (ms), ARGV[5] the channel, ARGV[6]
-- the audit entry, ARGV[7] entries kept in the audit log (MAXLEN ~).
-- Returns {seq, the user's ban as it was, or false}.
local old = redis.call('HGET', KEYS[1], ARGV[2])
local now = tonumber(ARGV[4])
local function held(raw)
  if not raw then
    return false
  end
  local ok, b = pcall(cjson.decode, raw)
  return ok and type(b) == 'table' and type(b['until']) == 'number' and (b['until'] == 0 or b['until'] > now)
end
if ARGV[1] == 'put' or held(old) then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*', 'entry', ARGV[6])
end
if ARGV[1] == 'put' then
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
else
  redis.call('HDEL', KEYS[1], ARGV[2])
end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local ok, b = pcall(cjson.decode, all[i + 1])
  if ok and type(b) == 'table' and type(b['until']) == 'number' and b['until'] > 0 and b['until'] <= now then
    redis.call('HDEL', KEYS[1], all[i])
  end
end
local seq = redis.call('INCR', KEYS[2])
local ban = 'null'
if ARGV[1] == 'put' then
  ban = ARGV[3]
end
redis.call('SPUBLISH', ARGV[5], '{"seq":' .. seq .. ',"userId":' .. cjson.encode(ARGV[2]) .. ',"ban":' .. ban .. '}')
return {seq, old or false}
