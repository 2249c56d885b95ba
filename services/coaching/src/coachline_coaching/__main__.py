from coachline.serve import serve
from coachline_coaching.app import create_app
from coachline_coaching.settings import Settings

serve(create_app, Settings())
