"""The JSON API: /api/v1/ (OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs).

Each app contributes a `router` from its `api.py`; all endpoints require a session or a bearer
token unless they say otherwise.
"""

from ninja import NinjaAPI

from mobiliza.accounts.api import router as accounts_router
from mobiliza.calling.api import router as calling_router
from mobiliza.core.api import AUTH
from mobiliza.core.api_errors import install_error_handlers
from mobiliza.people.api import router as people_router
from mobiliza.people.imports.api import router as imports_router
from mobiliza.surveys.api import router as surveys_router
from mobiliza.telephony.api import router as telephony_router
from mobiliza.texting.api import router as texting_router

api = NinjaAPI(
    title="Mobiliza API",
    version="1",
    description="Campaign headquarters: people, segments, surveys, call operations, texting.",
    urls_namespace="api",
    auth=AUTH,
    docs_url="/docs",
    openapi_url="/openapi.json",
)
api.add_router("/", accounts_router)
api.add_router("/", people_router)
api.add_router("/", imports_router)
api.add_router("/", surveys_router)
api.add_router("/", calling_router)
api.add_router("/", texting_router)
api.add_router("/", telephony_router)
install_error_handlers(api)
