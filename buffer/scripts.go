package buffer

import "github.com/redis/go-redis/v9"

// The scripts carry a shebang so that Redis 7 checks OOM before running a
// writing script (all or nothing) and enforces declared keys. Scripts the
// flusher needs to drain a full Redis are flagged allow-oom: they free
// memory or add a few bytes.

// appendScript appends comments of one shard.
//
//	KEYS[1] buf, KEYS[2] inflight, KEYS[3] this commit's key; for item i:
//	KEYS[2+2i] its recent list, KEYS[3+2i] its idempotency key (a
//	placeholder when it has none)
//	ARGV[1] shard limit, ARGV[2] recent length, ARGV[3] recent TTL (ms),
//	ARGV[4] idempotency window (ms), ARGV[5] commit key TTL (ms); for
//	item i: ARGV[3+3i] payload, ARGV[4+3i] channel, ARGV[5+3i] "1" if it
//	has an idempotency key
//
// Returns one value per item: 1 appended, 0 refused (over the limit), or
// the payload of the comment appended earlier under the same idempotency
// key (a retry: nothing appended). The commit key makes the script
// idempotent: the Redis client resends a pipeline whose reply it lost
// (a timeout, a dropped connection), and a second run returns the first
// run's results instead of appending again.
var appendScript = redis.NewScript(`#!lua
local done = redis.call('GET', KEYS[3])
if done then
  return cjson.decode(done)
end
local limit = tonumber(ARGV[1])
local recentLen = tonumber(ARGV[2])
local ttl = ARGV[3]
local window = ARGV[4]
local n = (#KEYS - 3) / 2
local len = redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2])
local res = {}
-- Appended comments are pushed a list at a time: the shard's list in
-- order, then each post's recent list (trimmed and kept once), then each
-- post's comments published in order.
local buf, posts, order = {}, {}, {}
for i = 1, n do
  local p = ARGV[3 + 3 * i]
  local dk = KEYS[3 + 2 * i]
  local first = false
  if ARGV[5 + 3 * i] == '1' then
    first = redis.call('GET', dk)
  end
  if first then
    res[i] = first
  elseif len >= limit then
    res[i] = 0
  else
    buf[#buf + 1] = p
    local rk = KEYS[2 + 2 * i]
    local post = posts[rk]
    if not post then
      post = {channel = ARGV[4 + 3 * i]}
      posts[rk] = post
      order[#order + 1] = rk
    end
    post[#post + 1] = p
    if ARGV[5 + 3 * i] == '1' then
      redis.call('SET', dk, p, 'PX', window)
    end
    len = len + 1
    res[i] = 1
  end
end
local function push(key, items)
  for j = 1, #items, 1000 do
    redis.call('RPUSH', key, unpack(items, j, math.min(j + 999, #items)))
  end
end
if #buf > 0 then
  push(KEYS[1], buf)
end
for _, rk in ipairs(order) do
  local post = posts[rk]
  push(rk, post)
  redis.call('LTRIM', rk, -recentLen, -1)
  redis.call('PEXPIRE', rk, ttl)
  for j = 1, #post do
    redis.call('SPUBLISH', post.channel, post[j])
  end
end
redis.call('SET', KEYS[3], cjson.encode(res), 'PX', ARGV[5])
return res
`)

// acquireScript takes the lease if it is free.
//
//	KEYS[1] lease, KEYS[2] leasegen; ARGV[1] owner, ARGV[2] ttl (ms)
//
// Returns the new fencing token, or false when another holder has it.
var acquireScript = redis.NewScript(`#!lua flags=allow-oom
if redis.call('EXISTS', KEYS[1]) == 1 then
  return false
end
local token = ARGV[1] .. '/' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return token
`)

// renewScript extends the lease of the current token.
//
//	KEYS[1] lease; ARGV[1] token, ARGV[2] ttl (ms)
var renewScript = redis.NewScript(`#!lua flags=allow-oom
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// releaseScript gives the lease up if the token is current.
//
//	KEYS[1] lease; ARGV[1] token
var releaseScript = redis.NewScript(`#!lua flags=allow-oom
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
`)

// claimScript returns the in-flight batch if there is one (left by a holder
// that died), else moves up to ARGV[2] comments from buf to inflight.
//
//	KEYS[1] buf, KEYS[2] inflight, KEYS[3] lease; ARGV[1] token, ARGV[2] max
var claimScript = redis.NewScript(`#!lua flags=allow-oom
if redis.call('GET', KEYS[3]) ~= ARGV[1] then
  return redis.error_reply('NOTLEASE lease lost')
end
if redis.call('LLEN', KEYS[2]) > 0 then
  return redis.call('LRANGE', KEYS[2], 0, -1)
end
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
if #items == 0 then
  return items
end
redis.call('LTRIM', KEYS[1], #items, -1)
for i = 1, #items, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(items, i, math.min(i + 999, #items)))
end
return items
`)

// ackScript ends a batch: dead letters are kept, the in-flight list goes.
//
//	KEYS[1] inflight, KEYS[2] lease, KEYS[3] dead; ARGV[1] token,
//	ARGV[2..] dead letters
var ackScript = redis.NewScript(`#!lua flags=allow-oom
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return redis.error_reply('NOTLEASE lease lost')
end
for i = 2, #ARGV do
  redis.call('RPUSH', KEYS[3], ARGV[i])
end
redis.call('DEL', KEYS[1])
return 1
`)
