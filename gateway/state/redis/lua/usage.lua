-- Read-only usage of one subject (gateway/state/redis/backend.py).
-- KEYS: rpm window hash, tpm window hash, concurrency zset. ARGV: now, window_s.
-- Returns: requests in the window, tokens in the window, live concurrency slots.
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])

local function window_sum(key)
  local flat = redis.call('HGETALL', key)
  local amounts, lasts = {}, {}
  for j = 1, #flat, 2 do
    local field = flat[j]
    if string.sub(field, 1, 1) == 't' then
      lasts[string.sub(field, 2)] = tonumber(flat[j + 1])
    else
      amounts[field] = tonumber(flat[j + 1])
    end
  end
  local total = 0
  for b, amount in pairs(amounts) do
    if lasts[b] ~= nil and lasts[b] > now - window then total = total + amount end
  end
  return string.format('%.17g', total)
end

local slots = redis.call('ZCOUNT', KEYS[3], '(' .. ARGV[1], '+inf')
return {window_sum(KEYS[1]), window_sum(KEYS[2]), slots}
