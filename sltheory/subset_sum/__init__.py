"""Random subset sum numerics: pure array code, knows nothing about networks.

The fast solver (:mod:`.solver`, numba kernels in :mod:`._kernels`), a torch solver for one mode
on any device (:mod:`.torch_solver`) and brute force (:mod:`.reference`) to test them against.

May import: the foundation only (``sltheory.errors``).
"""

from ._kernels import MAX_SAMPLES
from .reference import brute_force, brute_force_fixed, brute_force_min_size, brute_force_sparsest
from .solver import (
                     FIXED,
                     MAX_FIXED_ENTRIES,
                     MODES,
                     STAGES,
                     SubsetSumResult,
                     masks_to_bool,
                     popcount,
                     solve,
                     subset_sums,
)

__all__ = ["FIXED", "MAX_FIXED_ENTRIES", "MAX_SAMPLES", "MODES", "STAGES", "SubsetSumResult", "brute_force",
           "brute_force_fixed", "brute_force_min_size", "brute_force_sparsest",
           "masks_to_bool", "popcount", "solve", "subset_sums"]
