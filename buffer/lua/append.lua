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
local rxTTL = ARGV[10]
local KH, AH = 5, 10
local KPER, APER = 10, 19
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
-- keepChanged records states as their comments' among the post's changed
-- ones, dropping the oldest beyond changedLen: states holds id, state
-- pairs, times at (ms), id pairs. With nx, a time recorded already stays:
-- a comment pushed out of the recent list keeps the time of its last
-- change, or gets the time it was created. A sorted set cut to its
-- changedLen highest is the same whether cut after each add or once after
-- all, so the comments pushed out in one run are kept in one step.
local function keepChanged(chg, chgt, states, times, nx)
  if #states == 0 then
    return
  end
  for j = 1, #states, 1000 do
    redis.call('HSET', chg, unpack(states, j, math.min(j + 999, #states)))
    if nx then
      redis.call('ZADD', chgt, 'NX', unpack(times, j, math.min(j + 999, #times)))
    else
      redis.call('ZADD', chgt, unpack(times, j, math.min(j + 999, #times)))
    end
  end
  local over = redis.call('ZCARD', chgt) - changedLen
  if over > 0 then
    local gone = redis.call('ZPOPMIN', chgt, over)
    local ids = {}
    for j = 1, #gone, 2 do
      ids[#ids + 1] = gone[j]
    end
    for j = 1, #ids, 1000 do
      redis.call('HDEL', chg, unpack(ids, j, math.min(j + 999, #ids)))
    end
  end
  redis.call('PEXPIRE', chg, ttl)
  redis.call('PEXPIRE', chgt, ttl)
end
-- replaceRecent puts state in the place of comment id in the post's recent
-- comments: those of this batch not yet pushed, else the list, newest
-- first, a chunk at a time (most changes are to recent comments).
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
-- setState makes state (JSON) the comment's at version v: its version,
-- its place among the changed and the recent comments, the moderation
-- queue and the pinned ones; logs audit, publishes the record p and, if
-- buffered, queues it for the flusher.
local parents = {} -- parents' states decoded by bumpable, by id
local function setState(k, a, rk, id, v, state, at, p, buffered, audit)
  parents[id] = nil
  local chg, chgt, ver = KEYS[k + 3], KEYS[k + 4], KEYS[k + 5]
  redis.call('HSET', ver, id, v)
  redis.call('PEXPIRE', ver, ttl)
  keepChanged(chg, chgt, {id, state}, {at, id}, false)
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
  if audit ~= '' then
    redis.call('XADD', KEYS[5], 'MAXLEN', '~', auditLen, '*', 'entry', audit)
  end
  post.pub[#post.pub + 1] = p
  if buffered then
    buf[#buf + 1] = p
    len = len + 1
  end
end
-- count adds delta to the post's number of visible comments, if Redis
-- counts it (CountPosts seeds it): summed per post, applied at the end.
local deltas, deltaOrder = {}, {}
local function count(k, delta)
  if delta ~= '0' and delta ~= '' then
    local key = KEYS[k + 9]
    if not deltas[key] then
      deltas[key] = 0
      deltaOrder[#deltaOrder + 1] = key
    end
    deltas[key] = deltas[key] + tonumber(delta)
  end
end
-- current returns a comment's current state, decoded, and its version:
-- the caller's (fallback, at version base) unless Redis holds a newer
-- version, whose state is then among the changed ones; nil if it is not.
local function current(k, id, fallback, base)
  local cur = redis.call('HGET', KEYS[k + 5], id)
  if not cur or tonumber(cur) == base then
    if fallback == '' then
      return nil
    end
    return cjson.decode(fallback), base
  end
  local s = redis.call('HGET', KEYS[k + 3], id)
  if s then
    local st = cjson.decode(s)
    if (st.v or 1) == tonumber(cur) then
      return st, tonumber(cur)
    end
  end
  return nil
end
-- record returns the change record of op on comment st (decoded) at
-- version v: by "" (the change of a comment's replies), or a reaction's.
local function record(op, rid, at, st, by, reaction)
  local extra = ''
  if reaction ~= '' then
    extra = ',"reaction":' .. cjson.encode(reaction)
  end
  return '{"op":"' .. op .. '","id":"' .. rid .. '","postId":' .. cjson.encode(st.postId) ..
    ',"commentId":"' .. st._id .. '","by":' .. cjson.encode(by) .. ',"at":"' .. at ..
    '","v":' .. st.v .. extra .. ',"fields":' .. cjson.encode(st) .. '}'
end
-- A reply that becomes visible (delta 1) or stops being (-1) changes its
-- parent's replies: a change of the parent ("replies") in the same step.
-- bumpable reports whether the parent's state is known (else the item is
-- refused as stale, for the caller to decide again).
local function bumpable(k, a)
  local pid, delta = ARGV[a + 11], ARGV[a + 10]
  if pid == '' or delta == '0' or delta == '' then
    return true
  end
  local st = parents[pid]
  if not st then
    local v
    st, v = current(k, pid, ARGV[a + 12], tonumber(ARGV[a + 13]))
    if not st then
      return false
    end
    st.v = v
    parents[pid] = st
  end
  -- A new reply to a comment deleted meanwhile is decided again (NOT_FOUND).
  return not (ARGV[a + 1] == 'c' and st.deleted)
end
local function bumpParent(k, a, rk)
  local pid, delta = ARGV[a + 11], tonumber(ARGV[a + 10])
  if pid == '' or not delta or delta == 0 then
    return
  end
  local st = parents[pid]
  local n = (st.replies or 0) + delta
  if n > 0 then
    st.replies = n
  else
    st.replies = nil
  end
  st.v = st.v + 1
  local state = cjson.encode(st)
  local p = record('replies', ARGV[a + 14], ARGV[a + 15], st, '', '')
  setState(k, a, rk, pid, st.v, state, ARGV[a + 7], p, true, '')
  parents[pid] = st
end
-- react applies a reaction ('r'): once per user and reaction. The
-- reactors known are in rx:<comment> (field reaction\nuser: "1" or "0",
-- and #reaction: how many "1"); when fewer are known than the comment
-- counts, an unknown user's is asked of the caller (seed, from the
-- database). Returns the new state, or the current one if nothing changed;
-- -1 stale (deleted meanwhile, or state unknown), -3 seed needed.
local function react(k, a, rk)
  local id, base, at = ARGV[a + 4], tonumber(ARGV[a + 5]), ARGV[a + 7]
  local reaction, user, on, seed = ARGV[a + 16], ARGV[a + 17], ARGV[a + 18] == '1', ARGV[a + 19]
  local st, v = current(k, id, ARGV[a + 6], base)
  if not st or st.deleted then
    return -1
  end
  st.v = v
  local rx = KEYS[k + 10]
  local field = reaction .. '\n' .. user
  local counts = st.reactions or {}
  local n = tonumber(counts[reaction] or 0)
  local m = redis.call('HGET', rx, field)
  if not m then
    local known = tonumber(redis.call('HGET', rx, '#' .. reaction) or '0')
    if known >= n then
      m = '0'
    elseif seed ~= '' then
      m = seed
      if seed == '1' then
        redis.call('HINCRBY', rx, '#' .. reaction, 1)
      end
      redis.call('HSET', rx, field, seed)
    else
      return -3
    end
  end
  if (m == '1') == on then
    return cjson.encode(st)
  end
  if on then
    n = n + 1
    redis.call('HSET', rx, field, '1')
    redis.call('HINCRBY', rx, '#' .. reaction, 1)
  else
    n = math.max(n - 1, 0)
    redis.call('HSET', rx, field, '0')
    redis.call('HINCRBY', rx, '#' .. reaction, -1)
  end
  redis.call('PEXPIRE', rx, rxTTL)
  if n > 0 then
    counts[reaction] = n
  else
    counts[reaction] = nil
  end
  if next(counts) then
    st.reactions = counts
  else
    st.reactions = nil
  end
  st.v = v + 1
  local state = cjson.encode(st)
  local op = 'unreact'
  if on then
    op = 'react'
  end
  setState(k, a, rk, id, st.v, state, ARGV[a + 7], record(op, ARGV[a + 14], ARGV[a + 15], st, user, reaction), true, '')
  return state
end
-- Whether a post is locked, asked once a run (only lock.lua changes it).
local locks = {}
local function isLocked(key)
  if locks[key] == nil then
    locks[key] = redis.call('EXISTS', key) == 1
  end
  return locks[key]
end
for i = 1, n do
  local k = KH + KPER * (i - 1)
  local a = AH + APER * (i - 1)
  local kind = ARGV[a + 1]
  local p = ARGV[a + 2]
  local rk = KEYS[k + 1]
  -- A locked post takes no new comment and no edit; its lock key is in
  -- the post's shard, so the check and the append are one step.
  local locked = ARGV[a + 8] == '1' and isLocked(KEYS[k + 7])
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
    elseif not bumpable(k, a) then
      res[i] = -1
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
      count(k, ARGV[a + 10])
      bumpParent(k, a, rk)
      res[i] = 1
    end
  elseif kind == 'r' then
    if len >= limit then
      res[i] = 0
    else
      res[i] = react(k, a, rk)
    end
  else
    -- A change ('x'), or one already in the database ('w': write-through).
    local id, base, state, at = ARGV[a + 4], tonumber(ARGV[a + 5]), ARGV[a + 6], ARGV[a + 7]
    local cur = redis.call('HGET', KEYS[k + 5], id)
    if kind == 'x' and len >= limit then
      res[i] = 0
    elseif cur and tonumber(cur) ~= base then
      res[i] = -1
    elseif locked then
      res[i] = -2
    elseif not bumpable(k, a) then
      res[i] = -1
    else
      setState(k, a, rk, id, base + 1, state, at, p, kind == 'x', ARGV[a + 9])
      count(k, ARGV[a + 10])
      bumpParent(k, a, rk)
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
      local states, times = {}, {}
      for j = 1, #gone do
        local id = string.match(gone[j], '"_id":"(%x+)"')
        if id then
          states[#states + 1] = id
          states[#states + 1] = gone[j]
          times[#times + 1] = tonumber(string.sub(id, 1, 8), 16) * 1000
          times[#times + 1] = id
        end
      end
      keepChanged(post.chg, post.chgt, states, times, true)
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
for _, key in ipairs(deltaOrder) do
  if deltas[key] ~= 0 and redis.call('EXISTS', key) == 1 then
    redis.call('INCRBY', key, deltas[key])
  end
end
redis.call('SET', KEYS[3], cjson.encode(res), 'PX', ARGV[5])
return res
