"""genomlysning: reproducible review of Swedish social services for children and young people."""

from genomlysning.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "__version__"]
__version__ = "0.1.0"
