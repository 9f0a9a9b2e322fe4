"""A fault-injecting fake LLM provider speaking OpenAI, Anthropic and Gemini.

Start it in-process with `FakeProvider`, as a process with
`python -m tools.fake_provider --port 0`, or through the pytest fixture in
`tests/fake_fixtures.py`. Faults are chosen per model name
(`"fault:rate_limit,retry_after=2"`, `"mymodel+fault:stream_stall"`) or at run
time (`fake.set_fault(...)`, `POST /_control/faults`); `FAULTS` lists them.
"""

from tools.fake_provider._answers import default_text
from tools.fake_provider._process import FakeProcess
from tools.fake_provider._runner import FakeProvider, refused_base_url, serve_fake
from tools.fake_provider._schema import sample_for_schema
from tools.fake_provider._state import (
    FAULTS,
    FakeState,
    RecordedRequest,
    parse_model_fault,
)

__all__ = [
    "FAULTS",
    "FakeProcess",
    "FakeProvider",
    "FakeState",
    "RecordedRequest",
    "default_text",
    "parse_model_fault",
    "refused_base_url",
    "sample_for_schema",
    "serve_fake",
]
