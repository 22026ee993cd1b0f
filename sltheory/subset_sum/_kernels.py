"""Numba kernels of the batched subset-sum solver (private; see solver.py for the API).

Meet in the middle (Horowitz & Sahni 1974): the 2^h subset sums of each half are generated
already sorted by merging (adding one element doubles a sorted list in linear time, no sort),
then one two-pointer sweep over both sorted lists visits the pair whose sum is closest to the
target. Cost per problem O(2^{m/2}) time and memory for m samples.

Minimum cardinality (:func:`_sparsest`): sizes 1, 2, 3 by sweeps of the sorted samples, size 4
from the sorted sums of all pairs (a 4-subset is two disjoint pairs); larger sizes by the same
meet in the middle split by subset size. For each half,
:func:`_levels` builds the sorted sums of its subsets of size 0, 1, …, K (one sorted list per
size, by a merge recursion over the elements: level k ← merge(level k, level k−1 + c_i)); the
best subset of size exactly k is the closest pair over the splits k = k₁ + k₂ (a two-pointer
sweep of level k₁ of the first half against level k₂ of the second). Sizes are tried in
increasing order, so the first size with a subset within tolerance is the minimum cardinality.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

MAX_SAMPLES = 40  # 2^20 sums per half: 16 MiB of buffers per thread


@njit(cache=True, inline="always")
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@njit(cache=True)
def _sorted_subset_sums(c, lo, hi, s_a, m_a, s_b, m_b):
    """Sorted sums (and bit masks, bit i = element i) of all subsets of c[lo:hi].

    Returns (sums, masks, size); the result lives in one of the two buffer pairs.
    """
    s_a[0] = 0.0
    m_a[0] = np.uint64(0)
    size = 1
    for i in range(lo, hi):
        ci = c[i]
        bit = np.uint64(1) << np.uint64(i)
        a = 0
        b = 0
        k = 0
        while a < size and b < size:
            sb = s_a[b] + ci
            if s_a[a] <= sb:
                s_b[k] = s_a[a]
                m_b[k] = m_a[a]
                a += 1
            else:
                s_b[k] = sb
                m_b[k] = m_a[b] | bit
                b += 1
            k += 1
        while a < size:
            s_b[k] = s_a[a]
            m_b[k] = m_a[a]
            a += 1
            k += 1
        while b < size:
            s_b[k] = s_a[b] + ci
            m_b[k] = m_a[b] | bit
            b += 1
            k += 1
        size *= 2
        s_a, s_b = s_b, s_a
        m_a, m_b = m_b, m_a
    return s_a, m_a, size


@njit(cache=True)
def _levels(c, lo, hi, K, sums, masks, offs, sizes):
    """Sorted sums (and bit masks) of the subsets of c[lo:hi] of each size k = 0 … K.

    Level k lives in ``sums[offs[k] : offs[k] + sizes[k]]``, its capacity C(hi − lo, k) fixed by
    ``offs`` (offs[k] = Σ_{j<k} C(hi − lo, j)); ``offs`` needs K + 2 entries, ``sizes`` K + 1.
    Adding element i: level k ← merge(level k, level k−1 + c_i), k from high to low so the
    right-hand side is the level before i; each merge runs back to front inside level k's
    own region (its writes never pass its unread entries), so no scratch buffer is needed.
    """
    h = hi - lo
    K = min(K, h)
    offs[0] = 0
    binom = 1
    for k in range(K + 1):
        offs[k + 1] = offs[k] + binom
        binom = binom * (h - k) // (k + 1)
        sizes[k] = 0
    sums[0] = 0.0
    masks[0] = np.uint64(0)
    sizes[0] = 1
    for i in range(lo, hi):
        ci = c[i]
        bit = np.uint64(1) << np.uint64(i)
        for k in range(min(K, i - lo + 1), 0, -1):
            base = offs[k]
            prev = offs[k - 1]
            a = sizes[k] - 1
            b = sizes[k - 1] - 1
            w = sizes[k] + sizes[k - 1] - 1
            while b >= 0:
                vb = sums[prev + b] + ci
                if a >= 0 and sums[base + a] > vb:
                    sums[base + w] = sums[base + a]
                    masks[base + w] = masks[base + a]
                    a -= 1
                else:
                    sums[base + w] = vb
                    masks[base + w] = masks[prev + b] | bit
                    b -= 1
                w -= 1
            sizes[k] += sizes[k - 1]
    return K


@njit(cache=True, inline="always")
def _closest_pair(s1, m1, lo1, n1, s2, m2, lo2, n2, t):
    """Over pairs (x, y) of sorted lists s1[lo1:lo1+n1], s2[lo2:lo2+n2]: the pair whose sum is
    closest to t (two-pointer sweep). Returns (|x + y − t|, mask), (inf, 0) if a list is empty."""
    i = 0
    j = n2 - 1
    best_err = np.inf
    best_mask = np.uint64(0)
    while i < n1 and j >= 0:
        d = s1[lo1 + i] + s2[lo2 + j] - t
        ad = abs(d)
        if ad < best_err:
            best_err = ad
            best_mask = m1[lo1 + i] | m2[lo2 + j]
        if d > 0.0:
            j -= 1
        else:
            i += 1
    return best_err, best_mask


@njit(cache=True)
def _window_disjoint(s1, m1, lo1, n1, s2, m2, lo2, n2, t, tol):
    """Over pairs (x, y) of sorted lists s1[lo1:lo1+n1], s2[lo2:lo2+n2] with *disjoint* masks and
    |x + y − t| ≤ tol: the one of smallest error. Every pair in the window is visited (as x
    rises, the window's upper end in s2 only falls), so the cost is n1 + n2 + the pairs in the
    window. Returns (error, mask), (inf, 0) if there is none."""
    best_err = np.inf
    best_mask = np.uint64(0)
    j = n2 - 1
    for i in range(n1):
        x = s1[lo1 + i]
        while j >= 0 and x + s2[lo2 + j] > t + tol:
            j -= 1
        if j < 0:
            break
        k = j
        while k >= 0:
            d = x + s2[lo2 + k] - t
            if d < -tol:
                break
            if (m1[lo1 + i] & m2[lo2 + k]) == np.uint64(0):
                ad = abs(d)
                if ad < best_err:
                    best_err = ad
                    best_mask = m1[lo1 + i] | m2[lo2 + k]
            k -= 1
    return best_err, best_mask


@njit(cache=True)
def _closest_k(s, msk, lo, n, t, k):
    """Among k = 1, 2 or 3 *distinct* entries of the sorted list s[lo:lo+n], those whose sum is
    closest to t: a scan (k = 1), a two-pointer sweep with i < j (k = 2), or one such sweep per
    fixed third entry (k = 3, O(n²)). Returns (error, mask)."""
    best_err = np.inf
    best_mask = np.uint64(0)
    for a in range(n if k == 3 else 1):
        if k == 1:
            for i in range(n):
                ad = abs(s[lo + i] - t)
                if ad < best_err:
                    best_err = ad
                    best_mask = msk[lo + i]
            break
        skip = a if k == 3 else -1
        rest = t - s[lo + a] if k == 3 else t
        i = 0
        j = n - 1
        while i < j:
            if i == skip:
                i += 1
                continue
            if j == skip:
                j -= 1
                continue
            d = s[lo + i] + s[lo + j] - rest
            ad = abs(d)
            if ad < best_err:
                best_err = ad
                best_mask = msk[lo + i] | msk[lo + j]
                if k == 3:
                    best_mask |= msk[lo + a]
            if d > 0.0:
                j -= 1
            else:
                i += 1
    return best_err, best_mask


#: Sizes searched from the sorted singles (1, 2, 3) and the sorted pairs (4) of all samples.
SMALL_SIZES = 4


@njit(cache=True)
def _sparsest(c, m, t, tol, kmin, kmax, bufs_s, bufs_m, offs, sizes, small_s, small_m, small_offs, small_sizes):
    """Fewest-element subset of c[:m] within ``tol`` of t, searching sizes kmin … kmax (the empty
    set is the caller's; sizes below kmin already known to fail); among subsets of that size, the
    one with the smallest error.

    Returns (mask, error, found). Sizes are tried in increasing order. Sizes 1, 2, 3 come from
    the sorted samples (:func:`_closest_k`, at most O(m²)); size 4 from the sorted sums of all
    C(m, 2) pairs: the disjoint (pair, pair) combinations within tol (:func:`_window_disjoint`;
    every 4-subset splits so). Sizes K ≥ 5 use the per-size lists of the two halves (c[:h],
    c[h:m], h = m // 2) up to K (:func:`_levels`), rebuilt for each K — about 1.5× building them
    once, since level sizes grow about geometrically in K.
    """
    if kmin <= 3:
        _levels(c, 0, m, 1, small_s, small_m, small_offs, small_sizes)  # the sorted samples
    for K in range(max(kmin, 1), min(kmax, 3) + 1):
        best_err, best_mask = _closest_k(small_s, small_m, small_offs[1], small_sizes[1], t, K)
        if best_err <= tol:
            return best_mask, best_err, True
    if kmax >= 4 and kmin <= 4:
        _levels(c, 0, m, 2, small_s, small_m, small_offs, small_sizes)  # and all pairs
        best_err, best_mask = _window_disjoint(small_s, small_m, small_offs[2], small_sizes[2],
                                               small_s, small_m, small_offs[2], small_sizes[2], t, tol)
        if best_err <= tol:
            return best_mask, best_err, True
    h = m // 2
    for K in range(max(SMALL_SIZES + 1, kmin), kmax + 1):
        K1 = _levels(c, 0, h, K, bufs_s[0], bufs_m[0], offs[0], sizes[0])
        K2 = _levels(c, h, m, K, bufs_s[1], bufs_m[1], offs[1], sizes[1])
        best_err = np.inf
        best_mask = np.uint64(0)
        for k1 in range(0, min(K, K1) + 1):
            k2 = K - k1
            if k2 > K2:
                continue
            err, mask = _closest_pair(bufs_s[0], bufs_m[0], offs[0][k1], sizes[0][k1],
                                      bufs_s[1], bufs_m[1], offs[1][k2], sizes[1][k2], t)
            if err < best_err:
                best_err = err
                best_mask = mask
        if best_err <= tol:
            return best_mask, best_err, True
    return np.uint64(0), np.inf, False


@njit(cache=True)
def _solve_prefix(c, m, t, tol, bufs_s, bufs_m):
    """Best subset of c[:m] for target t.

    If some visited pair is within ``tol`` of t, return the one with the fewest elements
    (ties: smallest error); otherwise the subset with the smallest error (the optimum).
    Returns (mask, error).
    """
    h = m // 2
    s1, m1, n1 = _sorted_subset_sums(c, 0, h, bufs_s[0], bufs_m[0], bufs_s[1], bufs_m[1])
    s2, m2, n2 = _sorted_subset_sums(c, h, m, bufs_s[2], bufs_m[2], bufs_s[3], bufs_m[3])
    i = 0
    j = n2 - 1
    best_err = np.inf
    best_mask = np.uint64(0)
    cand_err = np.inf
    cand_mask = np.uint64(0)
    cand_pc = np.uint64(255)
    while i < n1 and j >= 0:
        d = s1[i] + s2[j] - t
        ad = abs(d)
        if ad < best_err:
            best_err = ad
            best_mask = m1[i] | m2[j]
        if ad <= tol:
            mk = m1[i] | m2[j]
            pc = _popcount(mk)
            if pc < cand_pc or (pc == cand_pc and ad < cand_err):
                cand_pc = pc
                cand_err = ad
                cand_mask = mk
        if d > 0.0:
            j -= 1
        else:
            i += 1
    if cand_err <= tol:
        return cand_mask, cand_err
    return best_mask, best_err


@njit(cache=True)
def _small_likely(c, m, tol):
    """Whether a subset of ≤ 4 elements within ``tol`` is likely: the expected number of 4-subsets
    whose sum falls within tol of a target, C(m, 4)·2 tol over a spread of 8·mean|c|, is ≥ 1.
    Only the order of the search (hence its cost) depends on it, never the result."""
    if m < SMALL_SIZES:
        return False   # the staged sweep over < 4 samples is as cheap, and kmax ≤ m below
    total = 0.0
    for i in range(m):
        total += abs(c[i])
    if total <= 0.0:
        return True
    comb4 = m * (m - 1) * (m - 2) * (m - 3) / 24.0
    return comb4 * 2.0 * tol >= 8.0 * total / m


@njit(cache=True)
def _size_cap(h, capacity):
    """Largest K ≤ h with Σ_{k≤K} C(h, k) ≤ capacity (the per-size lists of h elements fit)."""
    total = 0
    binom = 1
    for k in range(h + 1):
        total += binom
        if total > capacity:
            return k - 1
        binom = binom * (h - k) // (k + 1)
    return h


@njit(cache=True)
def _solve_one(c, m, t, tol, stages, sparsest, bufs_s, bufs_m, offs, sizes, small_s, small_m, small_offs,
               small_sizes):
    """One problem: c[:m] toward t. Staged (or exact, tol = 0) search over the first
    min(m, MAX_SAMPLES) samples; then, if ``sparsest``, the minimum-cardinality search over all m."""
    mask = np.uint64(0)
    err = abs(t)  # the empty subset
    if sparsest and err <= tol:
        return mask, err  # size 0 (the staged sweep need not visit the empty pair)
    kmin = 1
    if sparsest and tol > 0.0 and _small_likely(c, m, tol):
        # Sizes 1 … 4 first (about O(m² log m)): where a subset that small is likely, this finds
        # the minimum without the staged sweep; the result is the same either way.
        smask, serr, found = _sparsest(c, m, t, tol, 1, SMALL_SIZES, bufs_s, bufs_m, offs, sizes, small_s,
                                       small_m, small_offs, small_sizes)
        if found:
            return smask, serr
        kmin = SMALL_SIZES + 1
    ms = min(m, MAX_SAMPLES)
    for st in stages:
        mm = min(st, ms)
        mask, err = _solve_prefix(c, mm, t, tol, bufs_s, bufs_m)
        if err <= tol or mm >= ms:
            break
    if not sparsest or tol <= 0.0:
        return mask, err
    # The sizes whose per-size lists fit the buffers: all sizes when m ≤ MAX_SAMPLES (the buffers
    # hold 2^⌈m/2⌉ entries), the small ones beyond.
    cap = _size_cap(m - m // 2, bufs_s.shape[1])  # per-half level
    if cap >= m - m // 2:
        cap = m  # every level of both halves fits: any size
    if err <= tol:
        # The staged subset (size p, from a prefix) bounds the minimum cardinality: search sizes
        # 1 … p over all m samples. A subset of size p within tol exists (the staged one), so the
        # search succeeds unless p > cap, or a rounding tie at the tolerance: keep the staged one.
        kmax = min(int(_popcount(mask)), cap)
    elif m > ms:
        kmax = cap  # nothing within tol among the first MAX_SAMPLES: small subsets of all m
    else:
        return mask, err  # no subset within tol at all: the optimum
    if kmax < kmin:
        return mask, err  # sizes ≤ 4 failed, yet the staged subset is that small: a rounding tie at tol
    smask, serr, found = _sparsest(c, m, t, tol, kmin, kmax, bufs_s, bufs_m, offs, sizes, small_s, small_m,
                                   small_offs, small_sizes)
    if found:
        return smask, serr
    return mask, err


@njit(cache=True, parallel=True)
def solve_batch(samples, counts, targets, tols, stages, sparsest, chunk, out_mask, out_err):
    """Solve every problem p: samples[p, :counts[p]] toward targets[p] within tols[p]
    (``sparsest``: fewest elements among the subsets within tols[p], see :func:`_sparsest`)."""
    n_prob = samples.shape[0]
    width = 0
    width_all = 0
    for p in range(n_prob):
        width = max(width, min(counts[p], MAX_SAMPLES))
        width_all = max(width_all, counts[p])
    half = 1 << ((width + 1) // 2)   # width ≤ MAX_SAMPLES: also room for the sparsest mode's sizes
    levels = (width_all + 1) // 2
    n_chunks = (n_prob + chunk - 1) // chunk
    for ch in prange(n_chunks):
        bufs_s = np.empty((4, half), dtype=np.float64)
        bufs_m = np.empty((4, half), dtype=np.uint64)
        offs = np.empty((2, levels + 2), dtype=np.int64)
        sizes = np.empty((2, levels + 1), dtype=np.int64)
        n_small = 1 + width_all + width_all * (width_all - 1) // 2  # all singles and pairs
        small_s = np.empty(n_small, dtype=np.float64)
        small_m = np.empty(n_small, dtype=np.uint64)
        small_offs = np.empty(4, dtype=np.int64)
        small_sizes = np.empty(3, dtype=np.int64)
        for p in range(ch * chunk, min(n_prob, (ch + 1) * chunk)):
            mask, err = _solve_one(samples[p], counts[p], targets[p], tols[p], stages, sparsest,
                                   bufs_s, bufs_m, offs, sizes, small_s, small_m, small_offs, small_sizes)
            out_mask[p] = mask
            out_err[p] = err


# ----------------------------------------------------------------------------- fixed size
# The best subset of *exactly* k of c[:m] (Natale et al. 2024's fixed-size subset sum), k ≤ m − k
# (the caller searches the complement otherwise). Two exact methods, the cheaper one per problem:
#
# * "halves": the per-size lists of the two halves up to k (:func:`_levels`), one two-pointer sweep
#   per split k = k₁ + k₂ — lists of Σ_{j≤k} C(⌈m/2⌉, j) entries;
# * "all": the sorted sums of all r-subsets of all m samples for r = ⌊k/2⌋ and ⌈k/2⌉ (one
#   :func:`_levels` call up to ⌈k/2⌉); every k-subset is a disjoint (⌊k/2⌋, ⌈k/2⌉) pair, and for
#   each x of the first list the disjoint y of the second closest to t − x lies next to t − x: a
#   binary search, then a scan outward on each side to the first disjoint entry (stopped early
#   once the gap exceeds the best error so far) — lists of Σ_{j≤⌈k/2⌉} C(m, j) entries.


@njit(cache=True)
def _binom_sum(h, K):
    """Σ_{j ≤ min(K, h)} C(h, j)."""
    total = 0
    binom = 1
    for j in range(min(K, h) + 1):
        total += binom
        binom = binom * (h - j) // (j + 1)
    return total


@njit(cache=True)
def fixed_plan(m, k):
    """(method, entries) of the fixed-size search of k of m samples: method 0 = none needed
    (k > m, k' = min(k, m − k) ≤ 3: the sorted samples), 1 = halves, 2 = all (see above); entries
    = the length of the list buffer it needs."""
    if k > m:
        return 0, 0
    kk = min(k, m - k)
    if kk <= 3:
        return 0, m + 1
    halves = _binom_sum(m - m // 2, kk)
    every = _binom_sum(m, (kk + 1) // 2)
    if every <= halves:
        return 2, every
    return 1, halves


@njit(cache=True)
def fixed_capacity(m, k):
    """Entries of the list buffer the fixed-size search of k of m samples needs (:func:`fixed_plan`)."""
    return fixed_plan(m, k)[1]


@njit(cache=True)
def _closest_disjoint(s, msk, lo1, n1, lo2, n2, t):
    """Over x in s[lo1:lo1+n1] and y in s[lo2:lo2+n2] (sorted) with disjoint masks: the pair with
    x + y closest to t. Returns (error, mask), (inf, 0) when there is none."""
    best_err = np.inf
    best_mask = np.uint64(0)
    for i in range(n1):
        x = s[lo1 + i]
        mx = msk[lo1 + i]
        want = t - x
        a = 0
        b = n2
        while a < b:   # first index with s ≥ want
            mid = (a + b) // 2
            if s[lo2 + mid] < want:
                a = mid + 1
            else:
                b = mid
        j = a
        while j < n2:
            d = s[lo2 + j] - want
            if d >= best_err:
                break
            if (msk[lo2 + j] & mx) == np.uint64(0):
                best_err = d
                best_mask = mx | msk[lo2 + j]
                break
            j += 1
        j = a - 1
        while j >= 0:
            d = want - s[lo2 + j]
            if d >= best_err:
                break
            if (msk[lo2 + j] & mx) == np.uint64(0):
                best_err = d
                best_mask = mx | msk[lo2 + j]
                break
            j -= 1
    return best_err, best_mask


@njit(cache=True)
def _fixed_one(c, m, t, k, bufs_s, bufs_m, offs, sizes, small_s, small_m, small_offs, small_sizes):
    """Best subset of exactly k ≤ m − k of c[:m] toward t: (mask, |Σ − t|), (0, inf) if k > m."""
    if k > m:
        return np.uint64(0), np.inf
    if k == 0:
        return np.uint64(0), abs(t)
    method, _ = fixed_plan(m, k)
    if method == 0:
        _levels(c, 0, m, 1, small_s, small_m, small_offs, small_sizes)   # the sorted samples
        err, mask = _closest_k(small_s, small_m, small_offs[1], small_sizes[1], t, k)
        return mask, err
    if method == 2:
        r1 = k // 2
        r2 = k - r1
        _levels(c, 0, m, r2, bufs_s[0], bufs_m[0], offs[0], sizes[0])
        err, mask = _closest_disjoint(bufs_s[0], bufs_m[0], offs[0][r1], sizes[0][r1], offs[0][r2], sizes[0][r2], t)
        return mask, err
    h = m // 2
    K1 = _levels(c, 0, h, k, bufs_s[0], bufs_m[0], offs[0], sizes[0])
    K2 = _levels(c, h, m, k, bufs_s[1], bufs_m[1], offs[1], sizes[1])
    best_err = np.inf
    best_mask = np.uint64(0)
    for k1 in range(max(0, k - K2), min(k, K1) + 1):
        k2 = k - k1
        err, mask = _closest_pair(bufs_s[0], bufs_m[0], offs[0][k1], sizes[0][k1],
                                  bufs_s[1], bufs_m[1], offs[1][k2], sizes[1][k2], t)
        if err < best_err:
            best_err = err
            best_mask = mask
    return best_mask, best_err


@njit(cache=True, parallel=True)
def solve_fixed_batch(samples, counts, targets, ks, chunk, out_mask, out_err):
    """Every problem p: the best subset of exactly ks[p] of samples[p, :counts[p]] toward
    targets[p]. A k-subset of m samples is the complement of an (m − k)-subset whose sum is
    Σ c − t away from the same point, so k ≤ m/2 is searched; the error is recomputed from the
    returned mask (in index order)."""
    n_prob = samples.shape[0]
    cap = 1
    width_all = 1
    for p in range(n_prob):
        cap = max(cap, fixed_capacity(counts[p], ks[p]))
        width_all = max(width_all, counts[p])
    levels = width_all + 1
    n_chunks = (n_prob + chunk - 1) // chunk
    for ch in prange(n_chunks):
        bufs_s = np.empty((2, cap), dtype=np.float64)
        bufs_m = np.empty((2, cap), dtype=np.uint64)
        offs = np.empty((2, levels + 2), dtype=np.int64)
        sizes = np.empty((2, levels + 1), dtype=np.int64)
        small_s = np.empty(width_all + 1, dtype=np.float64)
        small_m = np.empty(width_all + 1, dtype=np.uint64)
        small_offs = np.empty(4, dtype=np.int64)
        small_sizes = np.empty(3, dtype=np.int64)
        for p in range(ch * chunk, min(n_prob, (ch + 1) * chunk)):
            m = counts[p]
            k = ks[p]
            c = samples[p]
            t = targets[p]
            if k > m:
                out_mask[p] = np.uint64(0)
                out_err[p] = np.inf
                continue
            if k > m - k:
                total = 0.0
                for i in range(m):
                    total += c[i]
                mask, err = _fixed_one(c, m, total - t, m - k, bufs_s, bufs_m, offs, sizes, small_s, small_m,
                                       small_offs, small_sizes)
                full = (np.uint64(1) << np.uint64(m)) - np.uint64(1) if m < 64 else ~np.uint64(0)
                mask = full & ~mask
            else:
                mask, err = _fixed_one(c, m, t, k, bufs_s, bufs_m, offs, sizes, small_s, small_m,
                                       small_offs, small_sizes)
            s = 0.0
            for i in range(m):
                if (mask >> np.uint64(i)) & np.uint64(1):
                    s += c[i]
            out_mask[p] = mask
            out_err[p] = abs(s - t)
