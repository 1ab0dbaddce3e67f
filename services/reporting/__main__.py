from services.reporting.app import spec
from shared.runner import serve

serve(spec)
