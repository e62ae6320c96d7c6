"""planqa: bilingual retrieval QA with exact citations over Chinese government plan documents."""

__all__ = ["__version__"]
__version__ = "0.1.0"
