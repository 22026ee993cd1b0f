import os

# Idle OpenMP threads sleep instead of spinning: after numba's parallel solver, torch calls in the same
# process otherwise slow down many times over whenever another process shares the cores (set before
# torch or numba is imported).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from hypothesis import HealthCheck, settings

# "ci": the profile CI runs (≥ 200 examples for the fast properties); "dev": quick local runs;
# "long": a slower, deeper search. Choose with HYPOTHESIS_PROFILE.
settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("long", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
