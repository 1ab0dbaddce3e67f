from services.referral.app import spec
from shared.runner import serve

serve(spec)
