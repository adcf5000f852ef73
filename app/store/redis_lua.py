"""Server-side scripts of the Redis backend.

Layout under the namespace prefix ``paradup:{ns}:`` (the braces make the
namespace a hash tag, so in a cluster every key of one index shares a slot
and each script below is a single atomic step on one node):

- ``meta``          HASH: scheme, bucket_bits, documents, paragraphs, seq
- ``ids``           HASH: document id -> 3-byte document number (seq)
- ``names``         ZSET: every document id, score 0, so that ids sort and
                    a prefix is a range (ZRANGEBYLEX) instead of a scan
- ``d<seq>``        LIST: id, digest, metadata JSON, paragraph texts...
- ``b<bucket>``     STRING: 8-byte records, suffix (3 bytes) + ref (5 bytes)

A band key's top ``bucket_bits`` bits pick its bucket and the next 24 bits
are its suffix inside it. Buckets are plain strings rather than hashes or
sets: a record costs its 8 bytes and nothing more, whatever the server's
encoding thresholds are. A ref is ``seq << 16 | paragraph index``.

Only the meta key is declared in KEYS: the others are derived from the
prefix and share its slot, which Redis 7 accepts in cluster mode (it only
refuses undeclared keys of another slot). Declaring tens of thousands of
bucket keys would cost more to send than the records themselves.

Every script is sent with the namespace's scheme as its last argument and
starts with ``GUARD``: when ``meta`` is gone (Redis restarted empty, the keys
deleted) or holds another scheme, it fails before touching anything, so no
read answers from a vanished index and no write re-creates a namespace
without its scheme. Only ``CREATE`` makes a namespace.
"""

from __future__ import annotations

REF = 5

# Takes the scheme off the end of ARGV and checks it against meta's.
GUARD = """
local expected_scheme = ARGV[#ARGV]
ARGV[#ARGV] = nil
local stored_scheme = redis.call('HGET', KEYS[1], 'scheme')
if stored_scheme ~= expected_scheme then
  return redis.error_reply('PARADUP_NAMESPACE ' .. tostring(stored_scheme))
end
"""

# ARGV: prefix, scheme, bucket bits. Creates meta unless it exists; refuses
# when documents are left without it (a namespace partly deleted). Returns
# the stored scheme and bucket bits.
CREATE = """
local meta, prefix = KEYS[1], ARGV[1]
if redis.call('EXISTS', meta) == 0 then
  if redis.call('EXISTS', prefix .. 'ids') == 1 then
    return redis.error_reply('PARADUP_DAMAGED')
  end
  redis.call('HSET', meta, 'scheme', ARGV[2], 'bucket_bits', ARGV[3])
end
return redis.call('HMGET', meta, 'scheme', 'bucket_bits')
"""

# ARGV: prefix, count. Reserves that many document numbers; returns the last.
RESERVE = (
    GUARD
    + """
return redis.call('HINCRBY', KEYS[1], 'seq', ARGV[2])
"""
)

# Returns the document and paragraph counters (also the readiness probe: it
# runs on the very node that serves the namespace).
STATS = (
    GUARD
    + """
return redis.call('HMGET', KEYS[1], 'documents', 'paragraphs')
"""
)

# ARGV: prefix, then 6-byte queries (bucket + suffix). Returns, per query,
# the concatenated refs of matching records ("" when none).
LOOKUP = (
    GUARD
    + """
local prefix, q = ARGV[1], ARGV[2]
local out, cache = {}, {}
for i = 1, #q, 6 do
  local b = string.sub(q, i, i + 2)
  local suffix = string.sub(q, i + 3, i + 5)
  local s = cache[b]
  if s == nil then
    s = redis.call('GET', prefix .. 'b' .. b) or ''
    cache[b] = s
  end
  local hits, pos = {}, 1
  while true do
    local at = string.find(s, suffix, pos, true)
    if not at then break end
    if (at - 1) % 8 == 0 then
      hits[#hits + 1] = string.sub(s, at + 3, at + 7)
      pos = at + 8
    else
      pos = at + 1
    end
  end
  out[#out + 1] = table.concat(hits)
end
return out
"""
)

# ARGV: prefix, then 5-byte refs. Returns id, text, metadata for each ref
# (false, false, false when the document or the paragraph is gone); a
# document's metadata only with its first ref (false after), since one
# check's candidates are often several paragraphs of one document.
PARAGRAPHS = (
    GUARD
    + """
local prefix, q = ARGV[1], ARGV[2]
local out, ids = {}, {}
for i = 1, #q, 5 do
  local key = prefix .. 'd' .. string.sub(q, i, i + 2)
  local hi, lo = string.byte(q, i + 3, i + 4)
  local id = ids[key]
  local meta = false
  if id == nil then
    id = redis.call('LINDEX', key, 0)
    ids[key] = id
    if id then
      meta = redis.call('LINDEX', key, 2)
    end
  end
  local text = false
  if id then
    text = redis.call('LINDEX', key, 3 + hi * 256 + lo)
  end
  out[#out + 1] = id
  out[#out + 1] = text
  out[#out + 1] = meta
end
return out
"""
)

# ARGV: prefix, then (id, digest) pairs. Returns, per id: false when absent;
# {seq, digest} when the digest is the same; {seq, full list} otherwise.
STATE = (
    GUARD
    + """
local prefix = ARGV[1]
local out = {}
for i = 2, #ARGV, 2 do
  local seq = redis.call('HGET', prefix .. 'ids', ARGV[i])
  if not seq then
    out[#out + 1] = false
  else
    local key = prefix .. 'd' .. seq
    local digest = redis.call('LINDEX', key, 1)
    if digest == ARGV[i + 1] then
      out[#out + 1] = {seq, digest}
    else
      out[#out + 1] = {seq, redis.call('LRANGE', key, 0, -1)}
    end
  end
end
return out
"""
)

# KEYS[1]: meta. ARGV: prefix, document count, then per document
#   op ('p' put, 'd' delete, 'c' check only), id, expected seq ('' = absent),
#   expected digest, seq, digest, metadata, paragraph count, texts...
# then the bucket changes, document delta, paragraph delta. Bucket changes
# are grouped by bucket on the client, because Lua pays about a microsecond
# per string it makes: per touched bucket, bucket (3 bytes), removed and
# added record counts (4 bytes each), the removed records, the added ones.
# Everything is verified before anything is written, so the script either
# returns 0 having changed nothing (a concurrent writer got there first: the
# caller re-reads and retries) or applies the whole batch.
APPLY = (
    GUARD
    + """
local prefix, meta = ARGV[1], KEYS[1]
local ids = prefix .. 'ids'
local docs, i = {}, 3
for d = 1, tonumber(ARGV[2]) do
  local n = tonumber(ARGV[i + 7])
  docs[d] = {op = ARGV[i], id = ARGV[i + 1], old_seq = ARGV[i + 2], old_digest = ARGV[i + 3],
             seq = ARGV[i + 4], digest = ARGV[i + 5], meta = ARGV[i + 6], first = i + 8, n = n}
  i = i + 8 + n
end
for _, doc in ipairs(docs) do
  local seq = redis.call('HGET', ids, doc.id)
  if (seq or '') ~= doc.old_seq then return 0 end
  if seq and redis.call('LINDEX', prefix .. 'd' .. seq, 1) ~= doc.old_digest then return 0 end
end
for _, doc in ipairs(docs) do
  if doc.op ~= 'c' then
    if doc.old_seq ~= '' then redis.call('DEL', prefix .. 'd' .. doc.old_seq) end
    if doc.op == 'd' then
      redis.call('HDEL', ids, doc.id)
      redis.call('ZREM', prefix .. 'names', doc.id)
    else
      local key = prefix .. 'd' .. doc.seq
      redis.call('RPUSH', key, doc.id, doc.digest, doc.meta)
      local j, last = doc.first, doc.first + doc.n - 1
      while j <= last do
        local k = math.min(j + 999, last)
        redis.call('RPUSH', key, unpack(ARGV, j, k))
        j = k + 1
      end
      redis.call('HSET', ids, doc.id, doc.seq)
      redis.call('ZADD', prefix .. 'names', 0, doc.id)
    end
  end
end
local blob, pos = ARGV[i], 1
while pos <= #blob do
  local key = prefix .. 'b' .. string.sub(blob, pos, pos + 2)
  local nrem, nadd = struct.unpack('>I4>I4', string.sub(blob, pos + 3, pos + 10))
  pos = pos + 11
  local s = redis.call('GET', key) or ''
  for r = 1, nrem do
    local rec, at, from = string.sub(blob, pos, pos + 7), nil, 1
    pos = pos + 8
    while true do
      at = string.find(s, rec, from, true)
      if not at then break end
      if (at - 1) % 8 == 0 then
        s = string.sub(s, 1, at - 1) .. string.sub(s, at + 8)
        break
      end
      from = at + 1
    end
  end
  if nadd > 0 then
    s = s .. string.sub(blob, pos, pos + nadd * 8 - 1)
    pos = pos + nadd * 8
  end
  if #s == 0 then redis.call('DEL', key) else redis.call('SET', key, s) end
end
redis.call('HINCRBY', meta, 'documents', ARGV[i + 1])
redis.call('HINCRBY', meta, 'paragraphs', ARGV[i + 2])
return 1
"""
)

# KEYS[1]: meta. ARGV: prefix. Fills ``names`` from ``ids`` once, for a
# namespace written before ``names`` existed; atomic, so no write of another
# replica can slip between the copy and the flag that says it is done.
INDEX_NAMES = (
    GUARD
    + """
local prefix, meta = ARGV[1], KEYS[1]
if redis.call('HGET', meta, 'names') then return 0 end
local ids = redis.call('HKEYS', prefix .. 'ids')
for i = 1, #ids, 1000 do
  local args = {}
  for j = i, math.min(i + 999, #ids) do
    args[#args + 1] = 0
    args[#args + 1] = ids[j]
  end
  redis.call('ZADD', prefix .. 'names', unpack(args))
end
redis.call('HSET', meta, 'names', 1)
return #ids
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
