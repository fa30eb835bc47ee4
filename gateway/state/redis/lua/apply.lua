-- Settle, release or abandon reservations in one call (gateway/state/redis/backend.py).
-- ARGV: groups of 4: op, key index, a, b.
--   "z": free the concurrency slot of token a in zset KEYS[k]
--   "w": add b to bucket a of window hash KEYS[k], if that bucket is still stored (never below 0),
--        and the same change to the hash's "sum" (see acquire.lua)
--   "s": add a USD to spend counter KEYS[k] (never below 0; a negative a takes back a budget
--        reservation); expire it after b seconds unless b is "0"
--   "d": delete reservation mark KEYS[k] (the reservation is settled or released)
--   "a": abandon the reservation whose mark is KEYS[k]; the a groups after this one undo it.
--        If its acquire ran and was allowed (mark "h"), the mark goes and those groups run;
--        else the mark becomes "g" for b ms, so the acquire, should it still run (it waited in
--        a stalled Redis), reserves nothing, and those groups are skipped.
--   "o": the a groups after this one are a settlement call's, to apply once: if its receipt
--        KEYS[k] is stored they ran already (the call was sent again: its first reply was
--        lost) and are skipped; else the receipt is stored for b ms and they run.
-- Sums are computed here and written with SET/HSET. Redis 6.2 rewrites INCRBYFLOAT into a longer
-- SET for replication, and inside a script that corrupts its heap (the server crashes a few
-- commands later); HINCRBYFLOAT is rewritten the same way, so neither is used.
-- Exact decimal text of a number: %d for whole numbers (several times cheaper than %.17g).
local function fmt(x)
  if x % 1 == 0 and x > -1e15 and x < 1e15 then return string.format('%d', x) end
  return string.format('%.17g', x)
end

local i = 1
while i <= #ARGV do
  local op, key, a, b = ARGV[i], KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2], ARGV[i + 3]
  i = i + 4
  if op == 'z' then
    redis.call('ZREM', key, a)
  elseif op == 'w' then
    local stored = redis.call('HMGET', key, a, 'sum')
    local amount, sum = tonumber(stored[1] or ''), tonumber(stored[2] or '')
    if amount ~= nil then
      local adjusted = math.max(0, amount + tonumber(b))
      if sum ~= nil then
        redis.call('HSET', key, a, fmt(adjusted), 'sum', fmt(math.max(0, sum + adjusted - amount)))
      else
        redis.call('HSET', key, a, fmt(adjusted))
      end
    end
  elseif op == 's' then
    local spent = fmt(math.max(0, (tonumber(redis.call('GET', key) or '0') or 0) + tonumber(a)))
    if b ~= '0' then
      redis.call('SET', key, spent, 'EX', b)
    else
      redis.call('SET', key, spent)
    end
  elseif op == 'd' then
    redis.call('DEL', key)
  elseif op == 'o' then
    if redis.call('EXISTS', key) == 1 then
      i = i + 4 * tonumber(a)
    else
      redis.call('SET', key, '1', 'PX', b)
    end
  elseif op == 'a' then
    if redis.call('GET', key) == 'h' then
      redis.call('DEL', key)
    else
      redis.call('SET', key, 'g', 'PX', b)
      i = i + 4 * tonumber(a)
    end
  end
end
return 0
