"""Data Docs views that keep their compiled Jinja templates for the life of the process, and
write pages that load nothing from the internet.

GX builds every Data Docs page with a new view, and each view makes a new Jinja environment,
so each build compiled GX's templates again: 0.3 s of a 0.4 s build. These views are GX's
own (same templates, same pages) with a Jinja bytecode cache shared between builds. Both
hooks are documented: the site's `view` classes are set in great_expectations.yml
(data_docs_sites > local_site), GX puts this plugins folder on the import path, and
`Environment.bytecode_cache` is Jinja's API for exactly this. A template whose source
changes is compiled again (Jinja checks each template's checksum).

Each page is then rewritten to load its styles and scripts from copies beside the pages, not
from CDNs (briefings.validation.data_docs.offline_page), so it shows as it should offline.
"""

from __future__ import annotations

from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket

from briefings.validation.data_docs import offline_page


class InMemoryBytecodeCache(BytecodeCache):
    """Compiled templates kept in this process, keyed by template name and file."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self.compiled.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)  # rejected if the source's checksum changed

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()

    def clear(self) -> None:
        self.compiled.clear()


TEMPLATES = InMemoryBytecodeCache()


class CachedJinjaPageView(DefaultJinjaPageView):
    """GX's validation page view; templates compiled once per process; offline."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = TEMPLATES  # before any template is loaded, as Jinja asks

    def render(self, document, template=None, **kwargs) -> str:
        return offline_page(super().render(document, template, **kwargs))


class CachedJinjaIndexPageView(DefaultJinjaIndexPageView):
    """GX's index page view; templates compiled once per process; offline."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = TEMPLATES

    def render(self, document, template=None, **kwargs) -> str:
        return offline_page(super().render(document, template, **kwargs))
