from services.agenda.app import NAME, create_app, get_settings
from shared.serve import serve

settings = get_settings()
serve(NAME, settings, lambda: create_app(settings))
