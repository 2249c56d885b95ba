import gc

from coachline.serve import serve
from coachline_kpi.app import create_app
from coachline_kpi.settings import Settings

# Folding a batch allocates counters and keys by the hundred thousand and drops them at its commit:
# collect the young generation less often, and leave what start-up loaded out of full collections.
gc.set_threshold(50_000, 20, 100)
gc.freeze()
serve(create_app, Settings())
