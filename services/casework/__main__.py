from services.casework.app import spec
from shared.runner import serve

serve(spec)
