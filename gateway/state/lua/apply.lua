-- Settle or release reservations in one call (gateway/state/redis.py).
-- ARGV: groups of 4: op, key index, a, b.
--   "z": free the concurrency slot of token a in zset KEYS[k]
--   "w": add b to bucket a of window hash KEYS[k], if that bucket still counts (never below 0)
--   "s": add a USD to spend counter KEYS[k]; expire it after b seconds unless b is "0"
for i = 1, #ARGV, 4 do
  local op, key, a, b = ARGV[i], KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2], ARGV[i + 3]
  if op == 'z' then
    redis.call('ZREM', key, a)
  elseif op == 'w' then
    if redis.call('HEXISTS', key, a) == 1 then
      local left = tonumber(redis.call('HINCRBYFLOAT', key, a, b))
      if left < 0 then redis.call('HSET', key, a, '0') end
    end
  elseif op == 's' then
    redis.call('INCRBYFLOAT', key, a)
    if b ~= '0' then redis.call('EXPIRE', key, b) end
  end
end
return 0
