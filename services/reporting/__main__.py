from services.reporting.service import spec
from shared.runner import serve

serve(spec)
