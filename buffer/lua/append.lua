#!lua
-- Appends new comments and changes of one shard, in order (scripts.go:
-- appendScript names every KEYS and ARGV position).
local done = redis.call('GET', KEYS[3])
if done then
  return cjson.decode(done)
end
local limit = tonumber(ARGV[1])
local recentLen = tonumber(ARGV[2])
local ttl = ARGV[3]
local window = ARGV[4]
local changedLen = tonumber(ARGV[6])
local logLen = tonumber(ARGV[7])
local modChannel = ARGV[8]
local auditLen = ARGV[9]
local KH, AH = 5, 9
local KPER, APER = 8, 9
local n = (#KEYS - KH) / KPER
local len = redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2])
local res = {}
-- Appended entries are pushed a list at a time: the shard's list in
-- order, then each post's recent list (trimmed and kept once), then each
-- post's events published in order and added to its log.
local buf, posts, order = {}, {}, {}
local function postOf(rk, channel, chg, chgt, log)
  local post = posts[rk]
  if not post then
    post = {channel = channel, chg = chg, chgt = chgt, log = log, pending = {}, pub = {}}
    posts[rk] = post
    order[#order + 1] = rk
  end
  return post
end
-- replaceRecent puts state in the place of comment id in the post's recent
-- comments: those of this batch not yet pushed, else the list, newest
-- first, a chunk at a time (most changes are to recent comments).
-- keepChanged records state as the comment's among the post's changed
-- ones, at time at (ms), dropping the oldest beyond changedLen. With nx, a
-- time recorded already stays: a comment pushed out of the recent list
-- keeps the time of its last change, or gets the time it was created.
local function keepChanged(chg, chgt, id, state, at, nx)
  redis.call('HSET', chg, id, state)
  if nx then
    redis.call('ZADD', chgt, 'NX', at, id)
  else
    redis.call('ZADD', chgt, at, id)
  end
  local over = redis.call('ZCARD', chgt) - changedLen
  if over > 0 then
    local gone = redis.call('ZPOPMIN', chgt, over)
    for j = 1, #gone, 2 do
      redis.call('HDEL', chg, gone[j])
    end
  end
  redis.call('PEXPIRE', chg, ttl)
  redis.call('PEXPIRE', chgt, ttl)
end
local function replaceRecent(rk, post, id, state)
  local needle = '"_id":"' .. id .. '"'
  for j = #post.pending, 1, -1 do
    if string.find(post.pending[j], needle, 1, true) then
      post.pending[j] = state
      return
    end
  end
  local size = redis.call('LLEN', rk)
  local stop = size - 1
  while stop >= 0 do
    local start = math.max(0, stop - 31)
    local items = redis.call('LRANGE', rk, start, stop)
    for j = #items, 1, -1 do
      if string.find(items[j], needle, 1, true) then
        redis.call('LSET', rk, start + j - 1, state)
        return
      end
    end
    stop = start - 1
  end
end
-- Pending comments (held for moderation) are kept in the shard's queue
-- while they are pending, and told to every node's moderators: when they
-- arrive, change, and leave the queue. A JSON string escapes its quotes,
-- so the needle cannot match inside content.
local pendingNeedle = '"status":"pending"'
local function queue(id, state, p)
  if string.find(state, pendingNeedle, 1, true) then
    redis.call('HSET', KEYS[4], id, state)
    redis.call('PUBLISH', modChannel, p)
  elseif redis.call('HDEL', KEYS[4], id) == 1 then
    redis.call('PUBLISH', modChannel, p)
  end
end
for i = 1, n do
  local k = KH + KPER * (i - 1)
  local a = AH + APER * (i - 1)
  local kind = ARGV[a + 1]
  local p = ARGV[a + 2]
  local rk = KEYS[k + 1]
  -- A locked post takes no new comment and no edit; its lock key is in
  -- the post's shard, so the check and the append are one step.
  local locked = ARGV[a + 8] == '1' and redis.call('EXISTS', KEYS[k + 7]) == 1
  if kind == 'c' then
    local dk = KEYS[k + 2]
    local first = false
    if ARGV[a + 4] == '1' then
      first = redis.call('GET', dk)
    end
    if first then
      res[i] = first
    elseif locked then
      res[i] = -2
    elseif len >= limit then
      res[i] = 0
    else
      buf[#buf + 1] = p
      local post = postOf(rk, ARGV[a + 3], KEYS[k + 3], KEYS[k + 4], KEYS[k + 6])
      post.pending[#post.pending + 1] = p
      post.pub[#post.pub + 1] = p
      if ARGV[a + 4] == '1' then
        redis.call('SET', dk, p, 'PX', window)
      end
      if string.find(p, pendingNeedle, 1, true) then
        queue(string.match(p, '"_id":"(%x+)"'), p, p)
      end
      len = len + 1
      res[i] = 1
    end
  else
    -- A change ('x'), or one already in the database ('w': write-through).
    local id, base, state, at = ARGV[a + 4], tonumber(ARGV[a + 5]), ARGV[a + 6], ARGV[a + 7]
    local chg, chgt, ver = KEYS[k + 3], KEYS[k + 4], KEYS[k + 5]
    local cur = redis.call('HGET', ver, id)
    if kind == 'x' and len >= limit then
      res[i] = 0
    elseif cur and tonumber(cur) ~= base then
      res[i] = -1
    elseif locked then
      res[i] = -2
    else
      redis.call('HSET', ver, id, base + 1)
      redis.call('PEXPIRE', ver, ttl)
      keepChanged(chg, chgt, id, state, at, false)
      local post = postOf(rk, ARGV[a + 3], chg, chgt, KEYS[k + 6])
      replaceRecent(rk, post, id, state)
      queue(id, state, p)
      -- Pinned comments are kept apart, without expiry (a few per post):
      -- joins and history put them first, however old.
      if string.find(state, '"pinned":true', 1, true) and not string.find(state, '"deleted":true', 1, true) then
        redis.call('HSET', KEYS[k + 8], id, state)
      else
        redis.call('HDEL', KEYS[k + 8], id)
      end
      -- A moderator's action is logged in the same step as it applies.
      if ARGV[a + 9] ~= '' then
        redis.call('XADD', KEYS[5], 'MAXLEN', '~', auditLen, '*', 'entry', ARGV[a + 9])
      end
      post.pub[#post.pub + 1] = p
      if kind == 'x' then
        buf[#buf + 1] = p
        len = len + 1
      end
      res[i] = 1
    end
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
  if #post.pending > 0 then
    push(rk, post.pending)
    -- Comments pushed out of the recent list may not be in the database
    -- yet (a hot post, a flusher behind): their state stays findable among
    -- the changed ones until it is.
    local over = redis.call('LLEN', rk) - recentLen
    if over > 0 then
      local gone = redis.call('LRANGE', rk, 0, over - 1)
      for j = 1, #gone do
        local id = string.match(gone[j], '"_id":"(%x+)"')
        if id then
          keepChanged(post.chg, post.chgt, id, gone[j], tonumber(string.sub(id, 1, 8), 16) * 1000, true)
        end
      end
      redis.call('LTRIM', rk, -recentLen, -1)
    end
  end
  if redis.call('EXISTS', rk) == 1 then
    redis.call('PEXPIRE', rk, ttl)
  end
  for j = 1, #post.pub do
    redis.call('SPUBLISH', post.channel, post.pub[j])
  end
  -- What was published, in order, for a node or a client that missed it.
  if #post.pub > 0 then
    push(post.log, post.pub)
    redis.call('LTRIM', post.log, -logLen, -1)
    redis.call('PEXPIRE', post.log, ttl)
  end
end
redis.call('SET', KEYS[3], cjson.encode(res), 'PX', ARGV[5])
return res
