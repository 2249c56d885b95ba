from coachline.serve import serve
from coachline_notifications.app import create_app
from coachline_notifications.settings import Settings

serve(create_app, Settings())
