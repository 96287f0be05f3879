"""Explicit, printed alignment of the RGB and DVS class lists *by name*.

Caltech101's ``101_ObjectCategories`` has 102 folders: 101 object classes (``Faces`` and
``Faces_easy`` are both there) plus ``BACKGROUND_Google``. N-Caltech101 (Orchard et al. 2015)
converted 101 of them: ``Faces_easy`` but not ``Faces``, and it keeps ``BACKGROUND_Google``.
So the paired class list is the 101 N-Caltech101 names (including ``BACKGROUND_Google``), and
``Faces`` is dropped on the RGB side *by name*, with the reason printed -- never by position,
which would shift every later label by one.

Rules:
* classes present on both sides are paired; labels follow the sorted DVS class names
  (tonic's NCALTECH101 walks sorted folders), i.e. label i = ``classes[i]`` on both sides;
* a one-sided class listed in ``KNOWN_ONE_SIDED`` (with its reason) is dropped and reported;
* any other one-sided class raises :class:`ClassAlignmentError` naming it.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable

from ckd_toolchain.errors import InputError

#: (side, class name) -> why it is legitimately present on that side only
KNOWN_ONE_SIDED: dict[tuple[str, str], str] = {
    ("rgb", "Faces"): "Caltech101 has Faces and Faces_easy; N-Caltech101 converted only Faces_easy",
}


class ClassAlignmentError(InputError):
    """A class is present on one side (RGB or DVS) only and is not a known exception."""


@dataclasses.dataclass(frozen=True)
class Alignment:
    classes: list[str]
    dropped: dict[str, str]  # "side:name" -> reason

    def describe(self) -> str:
        lines = [f"class alignment: {len(self.classes)} classes paired by name (RGB and DVS share label ids)"]
        for key, why in self.dropped.items():
            lines.append(f"class alignment: dropped {key} ({why})")
        return "\n".join(lines)


def align_classes(dvs_classes: Iterable[str], rgb_classes: Iterable[str], *, dvs_root=None, rgb_root=None,
                  known: dict[tuple[str, str], str] | None = None, order: list[str] | None = None) -> Alignment:
    """Pair classes by exact name; see module docstring. ``order`` fixes the label order (CEP-DVS)."""
    known = KNOWN_ONE_SIDED if known is None else known
    dvs, rgb = set(dvs_classes), set(rgb_classes)
    dropped: dict[str, str] = {}
    problems = []
    for side, only, root in (("dvs", sorted(dvs - rgb), dvs_root), ("rgb", sorted(rgb - dvs), rgb_root)):
        for name in only:
            if (side, name) in known:
                dropped[f"{side}:{name}"] = known[(side, name)]
            else:
                other = "RGB" if side == "dvs" else "DVS"
                problems.append(f"{name!r} is present on the {side.upper()} side ({root}) but not on the {other} side")
    if problems:
        raise ClassAlignmentError(None, "class alignment failed: " + "; ".join(problems))
    both = dvs & rgb
    if order is not None:
        classes = [c for c in order if c in both]
    else:
        classes = sorted(both)
    if not classes:
        raise ClassAlignmentError(None, "class alignment failed: no class is present on both the RGB and the DVS side")
    return Alignment(classes=classes, dropped=dropped)
