"""The Redis backend's read scripts (the layout they read and ``GUARD``
are in ``redis_lua``): a check's one call per master, lookups, paragraphs
and the first paragraphs of an id range. None of them writes."""

from __future__ import annotations

from app.store.redis_lua import GUARD

# Helpers of the read scripts. ``bucket``: a bucket's records, read once
# per script. ``refs``: the refs of the records whose suffix is ``suffix``
# (a match must start on a record boundary). ``fetch``: id, text and
# metadata of a local ref appended to ``out`` (false for what is gone;
# metadata with a document's first ref only, since one check's candidates
# are often several paragraphs of one document).
READ = """
local function bucket(prefix, cache, b)
  local s = cache[b]
  if s == nil then
    s = redis.call('GET', prefix .. 'b' .. b) or ''
    cache[b] = s
  end
  return s
end
local function refs(s, suffix, pos)
  local hits = {}
  while true do
    local at = string.find(s, suffix, pos, true)
    if not at then break end
    if (at - 1) % 7 == 0 then
      hits[#hits + 1] = string.sub(s, at + 3, at + 6)
      pos = at + 7
    else
      pos = at + 1
    end
  end
  return hits
end
local function fetch(prefix, ref, ids, out)
  local b1, b2, b3, b4 = string.byte(ref, 1, 4)
  local key = prefix .. 'd' .. (b1 * 4096 + b2 * 16 + math.floor(b3 / 16))
  local id = ids[key]
  local meta = false
  if id == nil then
    id = redis.call('LINDEX', key, 0)
    ids[key] = id
    if id then meta = redis.call('LINDEX', key, 2) end
  end
  local text = false
  if id then text = redis.call('LINDEX', key, 3 + (b3 % 16) * 256 + b4) end
  out[#out + 1] = id
  out[#out + 1] = text
  out[#out + 1] = meta
end
"""

# The check's one call to a master, for any number of the shards it holds
# (the flag lets one script read several slots of its node; a slot that is
# moving away makes the script fail, and the caller then sends each shard
# on its own, following the redirection).
# KEYS[1]: the first shard's meta (routes the call). ARGV: 6-byte queries
# (bucket + suffix), band query count, refs kept per band query, largest
# posting list that proposes candidates, each query's 4-byte filter masks,
# each query's 4-byte filter offsets (one or two words a query, as the
# format says), the filter's BITFIELD type, each passage fingerprint
# query's votes (a byte each), the votes a ref found under fingerprints
# alone needs to be a candidate, shard count, per shard: its prefix, the
# generation of the client's copy of its filter ("" when none) and the
# 4-byte indexes of the queries that pass the copy; then the scheme. The
# first queries are band keys, the others passage fingerprints. Masks and
# offsets come packed (one argument each, not three per query): redis-py
# spends about a microsecond per argument it packs, and a check has ~400
# queries. A shard whose filter is still at the copy's generation takes the
# client's list (redis_filter_cache); the others test every query with one
# BITFIELD_RO, whose arguments are made once per call, when a first shard
# needs them. Queries are cut out of the blob only when they pass (Lua pays
# fractions of a microsecond per string it makes, for every query of every
# shard). Returns, per shard: its GUARD failure, or a list of: the hits'
# heads (per query with some, 4-byte index, 2-byte count), the shard's
# filter generation when it tested on the server (false when it took the
# copy's list), the hits' refs (4 bytes each, in the heads' order and
# counts: at most the kept number, the lowest; a posting list longer than
# the largest cut at one more than it; apart from the heads so that the
# client reads each in one numpy call), then the candidates (see
# base.CandidateRule): the refs of each band query, and those of posting
# lists no longer than the largest with enough votes in all, each once:
# ref, id, text, metadata. A query passes a shard's filter when
# word & mask == mask (redis_filter).
CANDIDATES = (
    "#!lua flags=allow-cross-slot-keys,no-writes\n"
    + READ
    + """
local expected_scheme = ARGV[#ARGV]
local q = ARGV[1]
local bands, per_band, per_posting = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local count = #q / 6
-- 4-byte values of a blob, 1,000 to a struct.unpack (one C call each).
local function words(blob)
  local out = {}
  local n = #blob / 4
  for first = 1, n, 1000 do
    local k = math.min(1000, n - first + 1)
    local values = {struct.unpack('>' .. string.rep('I4', k), blob, 4 * first - 3)}
    for j = 1, k do out[first + j - 1] = values[j] end
  end
  return out
end
-- Filter words each query tests (a format may set bits in two).
local per = #ARGV[6] / 4 / count
local mask, fargs
local function server_tests()
  if fargs then return end
  mask, fargs = words(ARGV[5]), {}
  for n, offset in ipairs(words(ARGV[6])) do
    mask[n] = bit.tobit(mask[n])
    fargs[3 * n - 2] = 'GET'
    fargs[3 * n - 1] = ARGV[7]
    fargs[3 * n] = tostring(offset)
  end
end
local weights, min_votes = ARGV[8], tonumber(ARGV[9])
local answers, shards = {}, tonumber(ARGV[10])
for shard = 1, shards do
  local prefix, copied = ARGV[8 + 3 * shard], ARGV[9 + 3 * shard]
  local head = redis.call('HMGET', prefix .. 'meta', 'scheme', 'filter', 'fgen')
  if head[1] ~= expected_scheme then
    return redis.error_reply('PARADUP_NAMESPACE ' .. tostring(head[1]))
  end
  -- The queries that pass the filter (all when the shard has none), in
  -- order: most of a check's keys are in no shard or one, so the loops
  -- after this one see a few per cent of the queries.
  local passed, generation = {}, false
  if head[2] and head[3] and head[3] == copied then
    for k, n in ipairs(words(ARGV[10 + 3 * shard])) do passed[k] = n + 1 end
  elseif head[2] then
    generation = head[3] or false
    server_tests()
    -- 2,400 arguments a call: unpack's limit is 8,000 values.
    local got = {}
    for first = 1, #fargs, 2400 do
      local upto = math.min(first + 2399, #fargs)
      for _, value in ipairs(redis.call('BITFIELD_RO', prefix .. 'f', unpack(fargs, first, upto))) do
        got[#got + 1] = value
      end
    end
    for n = 1, count do
      local ok = true
      for i = per * (n - 1) + 1, per * n do
        local m = mask[i]
        if bit.band(got[i], m) ~= m then
          ok = false
          break
        end
      end
      if ok then passed[#passed + 1] = n end
    end
  else
    for n = 1, count do passed[n] = n end
  end
  local bucket_of, seen, wanted_buckets = {}, {}, {}
  for k, n in ipairs(passed) do
    local b = string.sub(q, 6 * n - 5, 6 * n - 3)
    bucket_of[k] = b
    if not seen[b] then
      seen[b] = true
      wanted_buckets[#wanted_buckets + 1] = b
    end
  end
  local buckets = {}
  for first = 1, #wanted_buckets, 4000 do
    local names = {}
    for k = first, math.min(first + 3999, #wanted_buckets) do
      names[#names + 1] = prefix .. 'b' .. wanted_buckets[k]
    end
    local values = redis.call('MGET', unpack(names))
    for k = 1, #names do buckets[wanted_buckets[first + k - 1]] = values[k] end
  end
  local heads, out, wanted, order, votes = {}, {}, {}, {}, {}
  for k, n in ipairs(passed) do
    local s = buckets[bucket_of[k]]
    -- Most queries miss in most shards: one search, and no table, for those.
    local suffix = s and string.sub(q, 6 * n - 2, 6 * n)
    local at = s and string.find(s, suffix, 1, true)
    if at then
      local hits = refs(s, suffix, at - (at - 1) % 7)
      if #hits > 0 then
        local keep = per_band
        if n > bands then keep = per_posting + 1 end
        if #hits > keep then
          table.sort(hits)
          for j = #hits, keep + 1, -1 do hits[j] = nil end
        end
        if n <= bands then
          for _, h in ipairs(hits) do
            if not wanted[h] then
              wanted[h] = true
              order[#order + 1] = h
            end
          end
        elseif #hits <= per_posting then
          -- A shard's votes for its refs are at least the merged ones
          -- (a posting list no longer than the largest here may be longer
          -- in all): a superset of the candidates the client keeps. Every
          -- query carries one vote or more.
          local w = string.byte(weights, n - bands)
          for _, h in ipairs(hits) do
            local v = (votes[h] or 0) + w
            votes[h] = v
            if v >= min_votes and not wanted[h] then
              wanted[h] = true
              order[#order + 1] = h
            end
          end
        end
        heads[#heads + 1] = struct.pack('>I4>I2', n - 1, #hits)
        out[#out + 1] = table.concat(hits)
      end
    end
  end
  local result, ids = {table.concat(heads), generation, table.concat(out)}, {}
  for _, ref in ipairs(order) do
    result[#result + 1] = ref
    fetch(prefix, ref, ids, result)
  end
  answers[shard] = result
end
return answers
"""
)

# ARGV: prefix, then 6-byte queries. Returns, per query, the concatenated
# refs of matching records ("" when none).
LOOKUP = (
    GUARD
    + READ
    + """
local prefix, q = ARGV[1], ARGV[2]
local out, cache = {}, {}
for i = 1, #q, 6 do
  local s = bucket(prefix, cache, string.sub(q, i, i + 2))
  out[#out + 1] = table.concat(refs(s, string.sub(q, i + 3, i + 5), 1))
end
return out
"""
)

# ARGV: prefix, then 4-byte local refs. Returns id, text, metadata for each
# ref (see ``fetch``).
PARAGRAPHS = (
    GUARD
    + READ
    + """
local prefix, q = ARGV[1], ARGV[2]
local out, ids = {}, {}
for i = 1, #q, 4 do
  fetch(prefix, string.sub(q, i, i + 3), ids, out)
end
return out
"""
)

# ARGV: prefix, lowest id (ZRANGEBYLEX form), highest, limit. Returns id,
# metadata and first paragraph (false when none) of each document in range.
FIRST_PARAGRAPHS = (
    GUARD
    + """
local prefix = ARGV[1]
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYLEX', prefix .. 'names', ARGV[2], ARGV[3], 'LIMIT', 0, ARGV[4])) do
  local seq = redis.call('HGET', prefix .. 'ids', id)
  if seq then
    local head = redis.call('LRANGE', prefix .. 'd' .. seq, 2, 3)
    out[#out + 1] = id
    out[#out + 1] = head[1]
    out[#out + 1] = head[2] or false
  end
end
return out
"""
)

# ARGV: prefix. Returns the shard's filter generation and its filter (false
# for either when missing), read together (redis_filter_cache).
FILTER = (
    GUARD
    + """
local prefix = ARGV[1]
return {redis.call('HGET', prefix .. 'meta', 'fgen'), redis.call('GET', prefix .. 'f')}
"""
)
