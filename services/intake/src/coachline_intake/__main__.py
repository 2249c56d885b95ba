import gc

from coachline.serve import serve
from coachline_intake.app import create_app
from coachline_intake.settings import Settings

# A batch allocates objects by the thousand and frees nearly all of them by its answer: collect the
# young generation less often, and leave what start-up loaded (modules, models) out of full collections.
gc.set_threshold(50_000, 20, 100)
gc.freeze()
serve(create_app, Settings())
