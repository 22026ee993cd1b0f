"""Random subset sum numerics: pure array code, knows nothing about networks."""

from .reference import brute_force, brute_force_min_size, brute_force_sparsest
from .solver import MAX_SAMPLES, MODES, STAGES, SubsetSumResult, masks_to_bool, popcount, solve, subset_sums

__all__ = ["MAX_SAMPLES", "MODES", "STAGES", "SubsetSumResult", "brute_force", "brute_force_min_size",
           "brute_force_sparsest",
           "masks_to_bool", "popcount", "solve", "subset_sums"]
