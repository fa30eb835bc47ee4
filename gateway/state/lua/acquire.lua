-- Check and reserve every limit of one request, all or nothing (gateway/state/redis.py).
-- KEYS[i]: the counter of check i: a window hash, a concurrency zset or a spend counter.
-- ARGV: now, second, token, slot_expiry, slot_ttl_ms, window_s, window_ttl_ms,
--       then 4 per check: kind ("w" window, "c" concurrency, "b" budget), limit, amount, hint
--       (hint: a budget's seconds to the period end; a full concurrency limit's retry hint).
-- A window hash holds, per 1-second bucket b, field b = amount and field "t"..b = latest use;
-- a bucket counts while its latest use is within window_s (the rules of gateway/state/windows.py).
-- Returns: 1 or 0 (all allowed), then per check: allowed (1/0), remaining, reset_s.
-- Sums are computed here and written with HSET, never with HINCRBYFLOAT (see apply.lua).
local now = tonumber(ARGV[1])
local second = ARGV[2]
local token = ARGV[3]
local slot_expiry = ARGV[4]
local slot_ttl_ms = ARGV[5]
local window = tonumber(ARGV[6])
local window_ttl_ms = ARGV[7]

local function fmt(x) return string.format('%.17g', x) end

local function live_buckets(key)
  local flat = redis.call('HGETALL', key)
  local amounts, lasts, stale, live = {}, {}, {}, {}
  for j = 1, #flat, 2 do
    local field = flat[j]
    if string.sub(field, 1, 1) == 't' then
      lasts[string.sub(field, 2)] = tonumber(flat[j + 1])
    else
      amounts[field] = tonumber(flat[j + 1])
    end
  end
  for b, last in pairs(lasts) do
    if amounts[b] ~= nil and last > now - window then
      live[#live + 1] = {amounts[b], last}
    else
      stale[#stale + 1] = 't' .. b
      if amounts[b] ~= nil then stale[#stale + 1] = b end
    end
  end
  for b, _ in pairs(amounts) do
    if lasts[b] == nil then stale[#stale + 1] = b end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  return live
end

local function window_verdict(live, pending, amount, limit)
  local used = pending
  local oldest = now
  for _, bucket in ipairs(live) do
    used = used + bucket[1]
    if bucket[2] < oldest then oldest = bucket[2] end
  end
  if used + amount <= limit then
    return 1, limit - used - amount, oldest + window - now
  end
  local reset = window
  if amount <= limit then
    table.sort(live, function(a, b) return a[2] < b[2] end)
    local need, freed = used + amount - limit, 0
    for _, bucket in ipairs(live) do
      freed = freed + bucket[1]
      if freed >= need then
        reset = bucket[2] + window - now
        break
      end
    end
  end
  return 0, math.max(0, limit - used), reset
end

local pending = {}
local out = {1}
for i, key in ipairs(KEYS) do
  local base = 7 + (i - 1) * 4
  local kind = ARGV[base + 1]
  local limit = tonumber(ARGV[base + 2])
  local amount = tonumber(ARGV[base + 3])
  local hint = tonumber(ARGV[base + 4])
  local already = pending[key] or 0
  local allowed, remaining, reset
  if kind == 'w' then
    allowed, remaining, reset = window_verdict(live_buckets(key), already, amount, limit)
    pending[key] = already + amount
  elseif kind == 'c' then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
    local used = redis.call('ZCARD', key) + already
    pending[key] = already + 1
    if used + 1 <= limit then
      allowed, remaining, reset = 1, limit - used - 1, 0
    else
      allowed, remaining, reset = 0, math.max(0, limit - used), hint
    end
  else
    local used = tonumber(redis.call('GET', key) or '0')
    if used < limit and used + amount <= limit then
      allowed, remaining = 1, limit - used - amount
    else
      allowed, remaining = 0, math.max(0, limit - used)
    end
    reset = hint
  end
  if allowed == 0 then out[1] = 0 end
  out[#out + 1] = allowed
  out[#out + 1] = fmt(remaining)
  out[#out + 1] = fmt(reset)
end

if out[1] == 1 then
  for i, key in ipairs(KEYS) do
    local base = 7 + (i - 1) * 4
    local kind = ARGV[base + 1]
    if kind == 'w' then
      local bucket = redis.call('HMGET', key, second, 't' .. second)
      local amount = (tonumber(bucket[1] or '') or 0) + tonumber(ARGV[base + 3])
      local last = math.max(tonumber(bucket[2] or '') or now, now)
      redis.call('HSET', key, second, fmt(amount), 't' .. second, fmt(last))
      redis.call('PEXPIRE', key, window_ttl_ms)
    elseif kind == 'c' then
      redis.call('ZADD', key, slot_expiry, token)
      redis.call('PEXPIRE', key, slot_ttl_ms)
    end
  end
end
return out
