/* KV-cache blocks of one instance: a pool with an LRU free list and a prefix-cache index
 * (the original's port of vLLM v0.19's block_pool.py / kv_cache_manager.py, NPU tier).
 * Freed blocks go to the tail of the free list (reused last) in reverse order so a request's
 * head survives longest; a popped block that is still indexed loses its index entry. Block
 * hashes are chained over the request's token ids (input then output), full blocks only. */
#include <stdlib.h>
#include <string.h>

#include "ss.h"

#define NONE_HASH 0x9E3779B97F4A7C15ULL

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

void ss_req_hashes(struct ss_req *r, int64_t bs)
{
    if (r->hashed)
        return;
    r->hashed = true;
    if (!r->ntoks || bs <= 0)
        return;
    size_t n = r->ntoks / (size_t)bs;
    r->hashes = n ? malloc(n * sizeof *r->hashes) : NULL;
    if (!r->hashes)
        return; /* no hashes: the request simply never hits, as without token ids */
    uint64_t parent = NONE_HASH;
    for (size_t b = 0; b < n; b++) {
        /* FNV-1a over the block's tokens, seeded by the parent, then one avalanche */
        uint64_t h = parent ^ 0xcbf29ce484222325ULL;
        const int32_t *tk = r->toks + b * (size_t)bs;
        for (int64_t i = 0; i < bs; i++)
            h = (h ^ (uint64_t)(uint32_t)tk[i]) * 0x100000001b3ULL;
        h = mix(h);
        if (!h)
            h = 1;
        r->hashes[b] = parent = h;
    }
    r->nhashes = n;
}

/* ---- hash index (open addressing, key 0 = empty, tombstone value -2) ---- */
static size_t hslot(const struct ss_pool *p, uint64_t k)
{
    return (size_t)(mix(k) & (p->hcap - 1));
}

static int32_t hget(const struct ss_pool *p, uint64_t k)
{
    if (!p->hcap)
        return -1;
    for (size_t i = hslot(p, k);; i = (i + 1) & (p->hcap - 1)) {
        if (!p->hk[i])
            return -1;
        if (p->hk[i] == k && p->hv[i] >= 0)
            return p->hv[i];
    }
}

static bool hgrow(struct ss_pool *p);

/* maps k to v; returns the block that held k before, or -1 */
static int32_t hput(struct ss_pool *p, uint64_t k, int32_t v)
{
    if ((p->hcount + p->hdel + 1) * 2 > p->hcap && !hgrow(p))
        return -1;
    size_t tomb = SIZE_MAX;
    for (size_t i = hslot(p, k);; i = (i + 1) & (p->hcap - 1)) {
        if (!p->hk[i]) {
            size_t at = tomb != SIZE_MAX ? tomb : i;
            if (tomb != SIZE_MAX)
                p->hdel--;
            p->hk[at] = k;
            p->hv[at] = v;
            p->hcount++;
            return -1;
        }
        if (p->hk[i] == k && p->hv[i] >= 0) {
            int32_t old = p->hv[i];
            p->hv[i] = v;
            return old;
        }
        if (p->hv[i] == -2 && tomb == SIZE_MAX)
            tomb = i;
    }
}

static void hdel(struct ss_pool *p, uint64_t k)
{
    if (!p->hcap)
        return;
    for (size_t i = hslot(p, k);; i = (i + 1) & (p->hcap - 1)) {
        if (!p->hk[i])
            return;
        if (p->hk[i] == k && p->hv[i] >= 0) {
            p->hv[i] = -2;
            p->hcount--;
            p->hdel++;
            return;
        }
    }
}

static bool hgrow(struct ss_pool *p)
{
    size_t ncap = p->hcap ? p->hcap : 1024;
    while ((p->hcount + 1) * 4 > ncap)
        ncap *= 2;
    if (ncap == p->hcap && p->hdel == 0)
        ncap *= 2;
    uint64_t *ok = p->hk;
    int32_t *ov = p->hv;
    size_t ocap = p->hcap;
    p->hk = calloc(ncap, sizeof *p->hk);
    p->hv = malloc(ncap * sizeof *p->hv);
    if (!p->hk || !p->hv) {
        free(p->hk);
        free(p->hv);
        p->hk = ok;
        p->hv = ov;
        return false;
    }
    p->hcap = ncap;
    p->hcount = p->hdel = 0;
    for (size_t i = 0; i < ocap; i++)
        if (ok[i] && ov[i] >= 0)
            (void)hput(p, ok[i], ov[i]);
    free(ok);
    free(ov);
    return true;
}

/* ---- pool ---- */

/* Is block i the one the index holds for its hash? (A block keeps a stale hash when another
 * block has taken that hash over.) */
static bool indexed(const struct ss_pool *p, int32_t i)
{
    return p->b[i].indexed;
}
ipw_err ss_pool_init(struct ss_pool *p, int64_t num_blocks, int64_t block_size,
                     int64_t bytes_per_block, bool caching, ipw_errbuf *eb)
{
    memset(p, 0, sizeof *p);
    if (num_blocks <= 0 || num_blocks > INT32_MAX - 2)
        return ipw_fail(eb, IPW_E_RANGE, "KV pool of %lld blocks is out of range",
                        (long long)num_blocks);
    p->num_blocks = num_blocks;
    p->block_size = block_size;
    p->bytes_per_block = bytes_per_block;
    p->caching = caching;
    p->b = calloc((size_t)num_blocks + 2, sizeof *p->b);
    if (!p->b)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory for %lld KV blocks", (long long)num_blocks);
    int32_t n = (int32_t)num_blocks, head = n, tail = n + 1;
    for (int32_t i = 0; i < n; i++) {
        p->b[i].prev = i == 0 ? head : i - 1;
        p->b[i].next = i == n - 1 ? tail : i + 1;
    }
    p->b[head].next = n ? 0 : tail;
    p->b[head].prev = -1;
    p->b[tail].prev = n ? n - 1 : head;
    p->b[tail].next = -1;
    p->nfree = num_blocks;
    return IPW_OK;
}

void ss_pool_free(struct ss_pool *p)
{
    free(p->b);
    free(p->hk);
    free(p->hv);
    memset(p, 0, sizeof *p);
}

static void fl_remove(struct ss_pool *p, int32_t i)
{
    struct ss_block *b = &p->b[i];
    p->b[b->prev].next = b->next;
    p->b[b->next].prev = b->prev;
    b->prev = b->next = -1;
    p->nfree--;
}

static void fl_append(struct ss_pool *p, int32_t i)
{
    int32_t tail = (int32_t)p->num_blocks + 1, last = p->b[tail].prev;
    p->b[i].prev = last;
    p->b[i].next = tail;
    p->b[last].next = i;
    p->b[tail].prev = i;
    p->nfree++;
}

static int32_t get_new_block(struct ss_pool *p)
{
    int32_t head = (int32_t)p->num_blocks, i = p->b[head].next;
    fl_remove(p, i);
    struct ss_block *b = &p->b[i];
    if (p->caching && b->has_hash) {
        if (b->indexed) {
            hdel(p, b->hash);
            p->cached_free--;
            b->indexed = false;
        }
        b->has_hash = false;
    }
    b->ref++;
    return i;
}

/* cached_free counts indexed blocks with ref 0: the used_bytes of the original counts them */
static void ref_inc(struct ss_pool *p, int32_t i)
{
    if (p->b[i].ref == 0 && indexed(p, i))
        p->cached_free--;
    p->b[i].ref++;
}

int64_t ss_pool_used_bytes(const struct ss_pool *p)
{
    return (p->num_blocks - p->nfree + p->cached_free) * p->bytes_per_block;
}

/* ---- manager ---- */
static int64_t cdiv(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

static bool lower_cached(const struct ss_pool *p, uint64_t h)
{
    return hget(p, h) >= 0;
}

/* _lookup_lower: whole coarse blocks past the NPU hit, counted from the coarse block the NPU
 * hit ends in, and only when at least one whole coarse block is gained */
static int64_t lookup_lower(struct ss_kv *kv, struct ss_req *r, int64_t npu_hit)
{
    struct ss_pool *p = kv->lower;
    r->storage_hit_blocks = 0;
    if (!p)
        return 0;
    int64_t coarse = p->block_size, factor = coarse / kv->block_size;
    int64_t ncoarse = r->num_reached / coarse;
    if (coarse * ncoarse - npu_hit < coarse)
        return 0;
    int64_t start = npu_hit / coarse, hits = 0;
    for (int64_t idx = start; idx < ncoarse; idx++) {
        int64_t fine = factor * idx + factor - 1;
        if (fine >= (int64_t)r->nhashes || !lower_cached(p, r->hashes[fine]))
            break;
        hits++;
    }
    if (!hits)
        return 0;
    int64_t gained = coarse * (start + hits) - npu_hit;
    if (gained < coarse)
        return 0;
    r->storage_hit_blocks = hits;
    return gained;
}

size_t ss_kv_computed_blocks(struct ss_kv *kv, struct ss_req *r, int32_t *hit, size_t cap,
                             int64_t *lower_hit)
{
    *lower_hit = 0;
    r->storage_hit_blocks = 0;
    if (!kv->caching)
        return 0;
    ss_req_hashes(r, kv->block_size);
    if (!r->nhashes)
        return 0;
    int64_t max_blocks = (r->num_reached - 1) / kv->block_size;
    size_t n = 0;
    for (int64_t i = 0; i < max_blocks && (size_t)i < r->nhashes && n < cap; i++) {
        int32_t b = hget(&kv->npu, r->hashes[i]);
        if (b < 0)
            break;
        hit[n++] = b;
    }
    *lower_hit = lookup_lower(kv, r, (int64_t)n * kv->block_size);
    return n;
}

static int64_t blocks_to_allocate(struct ss_kv *kv, struct ss_req *r, int64_t num_tokens,
                                  const int32_t *hit, size_t nhit)
{
    int64_t req_blocks = (int64_t)r->nblocks, need = cdiv(num_tokens, kv->block_size);
    if (r->has_cached_entry)
        return need - req_blocks > 0 ? need - req_blocks : 0;
    int64_t known = (int64_t)nhit + req_blocks, nnew = need - known > 0 ? need - known : 0;
    int64_t evictable = 0;
    for (size_t i = 0; i < nhit; i++)
        if (kv->npu.b[hit[i]].ref == 0)
            evictable++;
    return nnew + evictable;
}

bool ss_kv_can_fit_full(struct ss_kv *kv, struct ss_req *r, const int32_t *hit, size_t nhit,
                        int64_t npu_hit_tokens, int64_t lower_hit_tokens)
{
    int64_t total = r->num_computed + npu_hit_tokens + lower_hit_tokens;
    int64_t full = r->num_reached > total ? r->num_reached : total;
    return blocks_to_allocate(kv, r, full, hit, nhit) <= kv->npu.nfree;
}

static bool push_block(struct ss_req *r, int32_t b)
{
    if (r->nblocks == r->capblocks) {
        size_t nc = r->capblocks ? r->capblocks * 2 : 16;
        int32_t *nb = realloc(r->blocks, nc * sizeof *nb);
        if (!nb)
            return false;
        r->blocks = nb;
        r->capblocks = nc;
    }
    r->blocks[r->nblocks++] = b;
    return true;
}

/* Nothing new to index (the common decode step)? num_cached >= num_tokens / block_size is
 * tested as (num_cached + 1) * block_size > num_tokens: no division on the hot path. */
static bool nothing_to_index(const struct ss_kv *kv, const struct ss_req *r, int64_t num_tokens)
{
    return r->hashed && r->has_cached_entry &&
           (r->num_cached_block >= (int64_t)r->nhashes ||
            (r->num_cached_block + 1) * kv->block_size > num_tokens);
}

void ss_kv_cache_blocks(struct ss_kv *kv, struct ss_req *r, int64_t num_tokens)
{
    if (!kv->caching || nothing_to_index(kv, r, num_tokens))
        return;
    ss_req_hashes(r, kv->block_size);
    if (!r->nhashes)
        return;
    int64_t num_cached = r->has_cached_entry ? r->num_cached_block : 0;
    int64_t num_full = num_tokens / kv->block_size;
    if (num_full > (int64_t)r->nhashes)
        num_full = (int64_t)r->nhashes;
    if (num_cached >= num_full)
        return;
    for (int64_t i = num_cached; i < num_full && i < (int64_t)r->nblocks; i++) {
        struct ss_block *b = &kv->npu.b[r->blocks[i]];
        if (b->has_hash)
            continue;
        b->has_hash = true;
        b->hash = r->hashes[i];
        int32_t prev = hput(&kv->npu, b->hash, r->blocks[i]);
        if (prev >= 0 && prev != r->blocks[i]) {
            /* a newer block takes the hash over; the older one keeps a stale hash */
            kv->npu.b[prev].indexed = false;
            if (kv->npu.b[prev].ref == 0)
                kv->npu.cached_free--;
        }
        b->indexed = true;
        if (b->ref == 0)
            kv->npu.cached_free++;
    }
    r->num_cached_block = num_full;
    r->has_cached_entry = true;
    /* inclusive write-through into the lower tier, whole coarse blocks only; the bytes cost
     * energy in the original's comment but are never charged (kept for the record) */
    struct ss_pool *p = kv->lower;
    if (p) {
        int64_t factor = p->block_size / kv->block_size;
        for (int64_t idx = num_cached / factor; idx < num_full / factor; idx++) {
            int64_t fine = factor * idx + factor - 1;
            if (fine >= (int64_t)r->nhashes)
                break;
            uint64_t h = r->hashes[fine];
            if (hget(p, h) >= 0)
                continue;
            /* cache_copy: take the least recently written block, index it, free it again */
            int32_t nb = get_new_block(p);
            p->b[nb].has_hash = true;
            p->b[nb].hash = h;
            int32_t prev = hput(p, h, nb);
            if (prev >= 0 && prev != nb)
                p->b[prev].indexed = false;
            p->b[nb].indexed = true;
            p->b[nb].ref--;
            fl_append(p, nb);
            p->cached_free++;
            kv->write_through_bytes += p->bytes_per_block;
        }
    }
}

bool ss_kv_allocate(struct ss_kv *kv, struct ss_req *r, int64_t num_new, const int32_t *hit,
                    size_t nhit, int64_t npu_hit_tokens, int64_t lower_hit_tokens)
{
    r->has_blocks_entry = true;
    int64_t total = r->num_computed + npu_hit_tokens + lower_hit_tokens, need = total + num_new;
    if (!nhit && !lower_hit_tokens && need <= (int64_t)r->nblocks * kv->block_size) {
        /* the common decode step: the tokens fit the blocks held, nothing is allocated (what
         * the general path below computes too, without its divisions and loops) */
        int64_t upto = need < r->num_reached ? need : r->num_reached;
        if (kv->caching && !nothing_to_index(kv, r, upto))
            ss_kv_cache_blocks(kv, r, upto);
        return true;
    }
    if (blocks_to_allocate(kv, r, need, hit, nhit) > kv->npu.nfree)
        return false;
    if (nhit || lower_hit_tokens) {
        for (size_t i = 0; i < nhit; i++) {
            if (kv->npu.b[hit[i]].ref == 0)
                fl_remove(&kv->npu, hit[i]);
            ref_inc(&kv->npu, hit[i]);
            if (!push_block(r, hit[i]))
                return false;
        }
        r->num_cached_block = (int64_t)r->nblocks;
        r->has_cached_entry = true;
        if (lower_hit_tokens && kv->lower && r->storage_hit_blocks > 0) {
            /* the recall: whole coarse blocks move, on the critical path */
            kv->recall_bytes += r->storage_hit_blocks * kv->lower->bytes_per_block;
            r->storage_hit_blocks = 0;
        }
    }
    int64_t add = cdiv(need, kv->block_size) - (int64_t)r->nblocks;
    for (int64_t i = 0; i < add; i++)
        if (!push_block(r, get_new_block(&kv->npu)))
            return false;
    if (kv->caching)
        ss_kv_cache_blocks(kv, r, total + num_new < r->num_reached ? total + num_new : r->num_reached);
    return true;
}

void ss_kv_free(struct ss_kv *kv, struct ss_req *r)
{
    for (size_t k = r->nblocks; k-- > 0;) {
        struct ss_block *b = &kv->npu.b[r->blocks[k]];
        b->ref--;
        if (b->ref == 0) {
            fl_append(&kv->npu, r->blocks[k]);
            if (indexed(&kv->npu, r->blocks[k]))
                kv->npu.cached_free++;
        }
    }
    r->nblocks = 0;
    r->has_blocks_entry = false;
    r->has_cached_entry = false;
    r->num_cached_block = 0;
}
