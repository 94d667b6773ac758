#!lua
-- Lets a user post once per slow-mode interval: KEYS[1]
-- slowu:<post>:<user>; ARGV[1] the interval in ms. Returns 0 and starts
-- the interval if none runs, else the ms left of the one that does.
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return 0
end
return math.max(redis.call('PTTL', KEYS[1]), 1)
