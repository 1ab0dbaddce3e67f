from services.referral.service import spec
from shared.runner import serve

serve(spec)
