from services.casework.service import spec
from shared.runner import serve

serve(spec)
