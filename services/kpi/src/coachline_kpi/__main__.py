from coachline.serve import serve
from coachline_kpi.app import create_app
from coachline_kpi.settings import Settings

serve(create_app, Settings())
