"""Where the files that ship with the application are, found through the package.

Templates, branding, the comms teams' default configuration, the reference tables, the Great
Expectations context and prefect.yaml travel with the package: in a built wheel they are
package data under ``briefings/bundled/``; in a source checkout they are the project's own
folders. Data folders never come from here: they are given by configuration or the caller.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_BUNDLED = PACKAGE_DIR / "bundled"

#: True when running from a source checkout (editable install), not from a built wheel.
SOURCE_CHECKOUT = not _BUNDLED.is_dir()
#: The folder holding reference/, gx/, reports/{templates,branding,config}/ and prefect.yaml.
RESOURCES = PACKAGE_DIR.parent.parent if SOURCE_CHECKOUT else _BUNDLED
#: Where relative data and output folders resolve by default: the project folder of a
#: checkout, else the folder the command runs in.
PROJECT_ROOT = RESOURCES if SOURCE_CHECKOUT else Path.cwd()

REFERENCE_DIR = RESOURCES / "reference"
GX_PROJECT = RESOURCES  # holds gx/
TEMPLATES_DIR = RESOURCES / "reports" / "templates"
REPORTS_CONFIG_DIR = RESOURCES / "reports" / "config"
BRANDING_DIR = RESOURCES / "reports" / "branding"
PREFECT_FILE = RESOURCES / "prefect.yaml"
FLOWS_DIR = PACKAGE_DIR.parent.parent / "flows" if SOURCE_CHECKOUT else PACKAGE_DIR.parent / "flows"
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_OUT_DIR = PROJECT_ROOT / "reports" / "out"


def resource_name(path: Path) -> str:
    """A shipped file's name the same in a checkout and in a wheel (for fingerprints)."""
    for root in (PACKAGE_DIR, RESOURCES):
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return path.as_posix()
