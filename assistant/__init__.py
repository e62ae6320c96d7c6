"""planqa: bilingual retrieval QA with exact citations over Chinese government plan documents."""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["Assistant", "__version__"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from assistant.pipeline import Assistant


def __getattr__(name: str):
    # Lazy: `import assistant` stays cheap for the CLI's --help and for tests of single modules.
    if name == "Assistant":
        from assistant.pipeline import Assistant

        return Assistant
    raise AttributeError(name)
