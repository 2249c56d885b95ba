from coachline.serve import serve
from coachline_intake.app import create_app
from coachline_intake.settings import Settings

serve(create_app, Settings())
