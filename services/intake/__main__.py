from services.intake.app import spec
from shared.runner import serve

serve(spec)
