from services.registry.app import NAME, create_app, get_settings
from shared.serve import serve

serve(NAME, get_settings, create_app)
