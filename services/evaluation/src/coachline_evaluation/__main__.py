from coachline.serve import serve
from coachline_evaluation.app import create_app
from coachline_evaluation.settings import Settings

serve(create_app, Settings())
