-- Check and reserve every limit of one request, all or nothing (gateway/state/redis.py).
-- KEYS[i]: the counter of check i: a window hash, a concurrency zset or a spend counter.
-- ARGV: now, second, token, slot_expiry, slot_ttl_ms, window_s, window_ttl_ms,
--       then 4 per check: kind ("w" window, "c" concurrency, "b" budget), limit, amount, hint
--       (hint: a budget's seconds to the period end; a full concurrency limit's retry hint).
-- A window hash holds, per 1-second bucket b, field b = amount and field "t"..b = latest use;
-- a bucket counts while its latest use is within window_s (the rules of gateway/state/windows.py).
-- Three summary fields make a check cost the same however many buckets are stored: "sum" (the
-- amounts of every stored bucket), "lo" (no bucket is stored below that second) and "ot" (the
-- latest use of the bucket at "lo", when there is one); see window_usage. apply.lua keeps "sum"
-- right when it adjusts a bucket. While no bucket has left the window (every second but one of
-- a busy window's minute), a check is one HMGET and its reservation one HSET.
-- A concurrency zset's slots are counted with ZCOUNT from `now` on, so expired ones (a replica
-- that died holding them) never count; they are removed only when the count refuses.
-- Returns one string, space-separated: 1 or 0 (all allowed), then per check: allowed (1/0),
-- remaining, reset_s.
-- Sums are computed here and written with HSET, never with HINCRBYFLOAT (see apply.lua).
local now = tonumber(ARGV[1])
local second = tonumber(ARGV[2])
local token = ARGV[3]
local slot_expiry = ARGV[4]
local slot_ttl_ms = ARGV[5]
local window = tonumber(ARGV[6])
local window_ttl_ms = ARGV[7]
-- This second's bucket fields as strings: a number given to redis.call or to `..` is formatted
-- by sprintf on every use, which costs more than the command itself.
local second_field, second_time_field = ARGV[2], 't' .. ARGV[2]

-- Exact decimal text of a number: %d for whole numbers (several times cheaper than %.17g).
local function fmt(x)
  if x % 1 == 0 and x > -1e15 and x < 1e15 then return string.format('%d', x) end
  return string.format('%.17g', x)
end
-- A time: `now` as it was given when it is `now` (no formatting at all).
local function fmt_time(t)
  if t == now then return ARGV[1] end
  return fmt(t)
end
local windows = {}  -- window key -> {sum, lo, oldest} as read by this call
-- A busy window holds 120-odd fields. Redis keeps a small hash as one packed list (ziplist /
-- listpack) that every field lookup scans: at a minute of buckets, this script's 5-field HMGET
-- and HSET cost 10-13 us more each than in a hash table. A field value longer than
-- hash-max-ziplist-value (64 by default) makes Redis convert the hash to a hash table for good,
-- so once a window spans HASHTABLE_AFTER seconds, field "pad" gets such a value.
local HASHTABLE_AFTER = 8
local PAD = string.rep('-', 72)

-- Every bucket of a window, for the rare full scan: drops stale buckets, rewrites the summary,
-- and returns the live ones as {amount, latest use}. Used when the summary is missing (a window
-- written before it existed), after a gap of more than a window, and to compute a refusal's reset.
local function scan_window(key)
  local flat = redis.call('HGETALL', key)
  local amounts, lasts, stale, live = {}, {}, {}, {}
  for j = 1, #flat, 2 do
    local field = flat[j]
    if string.sub(field, 1, 1) == 't' then
      lasts[string.sub(field, 2)] = tonumber(flat[j + 1])
    elseif tonumber(field) ~= nil then
      amounts[field] = tonumber(flat[j + 1])
    end
  end
  local sum, lo, oldest = 0, nil, nil
  for b, last in pairs(lasts) do
    if amounts[b] ~= nil and last > now - window then
      live[#live + 1] = {amounts[b], last}
      sum = sum + amounts[b]
      if lo == nil or tonumber(b) < lo then lo = tonumber(b) end
      if oldest == nil or last < oldest then oldest = last end
    else
      stale[#stale + 1] = 't' .. b
      if amounts[b] ~= nil then stale[#stale + 1] = b end
    end
  end
  for b, _ in pairs(amounts) do
    if lasts[b] == nil then stale[#stale + 1] = b end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  if lo == nil then
    redis.call('HDEL', key, 'sum', 'lo', 'ot')
    windows[key] = {sum = 0, lo = second}
  else
    redis.call('HSET', key, 'sum', fmt(sum), 'lo', fmt(lo), 'ot', fmt(oldest))
    windows[key] = {sum = sum, lo = lo, oldest = oldest}
  end
  return live
end

-- The window's live sum and its oldest live use (nil when empty), from the summary fields
-- `sum` (the amounts of every bucket stored) and `lo` (no bucket is stored below it): only the
-- buckets that left the window since the last call are read and dropped, so the cost does not
-- grow with the number of buckets. Bucket b holds uses from [b, b + 1), so every bucket below
-- floor(now - window) has left and every one above it still counts; only that one is compared.
local function window_usage(key)
  local known = windows[key]
  if known ~= nil then return known.sum, known.oldest end
  -- One read: the summary and this second's bucket. When no stored bucket can have left the
  -- window (lo > edge), that is all a check needs.
  local edge = math.floor(now - window)
  local head = redis.call('HMGET', key, 'sum', 'lo', 'ot', second_field, second_time_field)
  local sum, lo, ot = tonumber(head[1] or ''), tonumber(head[2] or ''), tonumber(head[3] or '')
  local current = {tonumber(head[4] or ''), tonumber(head[5] or '')}
  if sum ~= nil and lo ~= nil and ot ~= nil and lo > edge then
    windows[key] = {sum = sum, lo = lo, oldest = ot, current = current}
    return sum, ot
  end
  if sum == nil or lo == nil or edge - lo > 64 then
    scan_window(key)
    return windows[key].sum, windows[key].oldest
  end
  -- Buckets may have left: drop them from the bottom up, down to the first live one.
  local stale, b, oldest = {}, lo, nil
  while b <= edge do
    local bucket = redis.call('HMGET', key, b, 't' .. b)
    local amount, last = tonumber(bucket[1] or ''), tonumber(bucket[2] or '')
    if amount ~= nil and last ~= nil and b == edge and last > now - window then
      oldest = last
      break
    end
    if amount ~= nil or last ~= nil then
      stale[#stale + 1] = b
      stale[#stale + 1] = 't' .. b
      sum = sum - (amount or 0)
    end
    b = b + 1
  end
  if oldest == nil then
    -- The oldest live bucket is the first one stored at or after b.
    local last = tonumber(redis.call('HGET', key, 't' .. b) or '')
    if last == nil and b < second then
      local fields = {}
      for x = b + 1, second do fields[#fields + 1] = 't' .. x end
      local lasts = redis.call('HMGET', key, unpack(fields))
      for i = 1, #fields do
        if lasts[i] then
          b, last = b + i, tonumber(lasts[i])
          break
        end
      end
    end
    oldest = last
    if oldest == nil then
      if sum > 1e-9 then
        -- Usage stored beyond `now` (a clock that went back): count it the slow, exact way.
        windows[key] = nil
        redis.call('HDEL', key, 'sum')
        scan_window(key)
        return windows[key].sum, windows[key].oldest
      end
      sum, b = 0, second
    end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  if oldest ~= nil then
    redis.call('HSET', key, 'sum', fmt(sum), 'lo', fmt(b), 'ot', fmt(oldest))
  else
    redis.call('HSET', key, 'sum', fmt(sum), 'lo', fmt(b))
    redis.call('HDEL', key, 'ot')
  end
  windows[key] = {sum = sum, lo = b, oldest = oldest, current = current}
  return sum, oldest
end

local function window_verdict(key, pending, amount, limit)
  local sum, oldest = window_usage(key)
  local used = sum + pending
  if used + amount <= limit then
    return 1, limit - used - amount, math.min(oldest or now, now) + window - now
  end
  local reset = window
  if amount <= limit then
    local live = scan_window(key)
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
    allowed, remaining, reset = window_verdict(key, already, amount, limit)
    pending[key] = already + amount
  elseif kind == 'c' then
    -- Live slots only (an expired one belonged to a replica that died holding it); the
    -- expired ones are dropped when the live count refuses, and with the key when it idles.
    local used = redis.call('ZCOUNT', key, '(' .. ARGV[1], '+inf') + already
    if used + 1 > limit then redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1]) end
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
      local add = tonumber(ARGV[base + 3])
      local known = windows[key]
      local bucket = known.current
      if bucket == nil then
        local stored = redis.call('HMGET', key, second_field, second_time_field)
        bucket = {tonumber(stored[1] or ''), tonumber(stored[2] or '')}
      end
      local amount = (bucket[1] or 0) + add
      local last = math.max(bucket[2] or now, now)
      known.current = {amount, last}
      known.sum = known.sum + add
      if second <= known.lo then
        -- This second's bucket is (now) the lowest stored: the summary's oldest use is its own.
        known.lo, known.oldest = second, last
        local last_text = fmt_time(last)
        redis.call('HSET', key, second_field, fmt(amount), second_time_field, last_text,
          'sum', fmt(known.sum), 'lo', second_field, 'ot', last_text)
      else
        redis.call('HSET', key, second_field, fmt(amount), second_time_field, fmt_time(last), 'sum', fmt(known.sum))
      end
      -- A new bucket renews the key's expiry: never more than once a second.
      if bucket[1] == nil then
        redis.call('PEXPIRE', key, window_ttl_ms)
        if second - known.lo >= HASHTABLE_AFTER then redis.call('HSET', key, 'pad', PAD) end
      end
    elseif kind == 'c' then
      redis.call('ZADD', key, slot_expiry, token)
      redis.call('PEXPIRE', key, slot_ttl_ms)
    end
  end
end
return table.concat(out, ' ')
