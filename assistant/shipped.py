"""The trained artefacts that ship with the assistant: LTM-T's weights and the answer
adapter, each with a JSON record of how it was made. In an installed wheel they are
package data (assistant/data/); in a checkout, the repository's data/ folder."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_PLACES = (_PACKAGE / "data", _PACKAGE.parent / "data")  # the wheel's, then a checkout's


class MissingArtefactError(FileNotFoundError):
    """A shipped file is not where the install put it."""


def shipped(name: str) -> Path:
    """The path of the shipped file `name`; a clear error when the install lacks it."""
    for folder in _PLACES:
        if (folder / name).is_file():
            return folder / name
    raise MissingArtefactError(
        f"the shipped file {name} is missing (looked in {' and '.join(map(str, _PLACES))}); "
        "reinstall the assistant (`make setup`), or rebuild it as data/"
        f"{Path(name).with_suffix('.json').name} records")
