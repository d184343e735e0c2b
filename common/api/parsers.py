"""The API's parsers: DRF's own, with every parsed body passed through the input filter.

``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]`` names these; a view that lists its own parsers takes
them from here too (a test walks every API view to hold that). See ``common.input_filter``.
"""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ValidationError

from common.input_filter import bad_text_fields, refusal_body


class _BadTextRefused(ValidationError):
    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__(refusal_body(fields)["fields"])


class _FilteredParser:
    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        data = parsed.data if isinstance(parsed, parsers.DataAndFiles) else parsed
        fields = bad_text_fields(data)
        if fields:
            raise _BadTextRefused(fields)
        return parsed


class JSONParser(_FilteredParser, parsers.JSONParser):
    pass


class FormParser(_FilteredParser, parsers.FormParser):
    pass


class MultiPartParser(_FilteredParser, parsers.MultiPartParser):
    pass


FILTERED_PARSERS = (JSONParser, FormParser, MultiPartParser)
