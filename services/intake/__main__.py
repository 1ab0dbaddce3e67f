from services.intake.service import spec
from shared.runner import serve

serve(spec)
