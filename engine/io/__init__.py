"""A leaf of small helpers with no bt imports: atomic file output and JSON-ready values."""

from mlbt.io.atomic import building_dir, check_creatable, check_replaceable, replace_dir, write_file, write_text
from mlbt.io.jsonable import json_safe, plain

__all__ = ["building_dir", "check_creatable", "check_replaceable", "json_safe", "plain", "replace_dir",
           "write_file", "write_text"]
