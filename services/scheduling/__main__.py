from services.scheduling.app import NAME, create_app, get_settings
from shared.serve import serve

serve(NAME, get_settings, create_app)
