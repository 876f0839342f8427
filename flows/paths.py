"""Where the project's own files live; data folders come from the caller."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = PROJECT_ROOT / "reference"
TEMPLATES_DIR = PROJECT_ROOT / "reports" / "templates"
REPORTS_CONFIG_DIR = PROJECT_ROOT / "reports" / "config"
BRANDING_DIR = PROJECT_ROOT / "reports" / "branding"
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_OUT_DIR = PROJECT_ROOT / "reports" / "out"
