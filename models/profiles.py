"""Network size profiles and device resolution.

Every network's constructor defaults are the seed system's own sizes (docs/reference-systems.md),
so the ``full`` profile adds nothing to them. The ``fast`` profile holds smaller sizes
that train in seconds to minutes on a CPU. ``auto`` picks ``full`` on CUDA and ``fast``
elsewhere; a resolved configuration always records the concrete profile, so a cache key
never says ``auto``.
"""

from __future__ import annotations

from typing import Any

import torch

PROFILE_NAMES = ("full", "fast", "auto")

#: network name -> profile -> constructor keyword overrides. ``full`` is empty on purpose:
#: the constructors' defaults are the seed's sizes.
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    # 2 x 15 units is already CPU-sized: fast == full.
    "etf50": {"full": {}, "fast": {}},
    "price": {"full": {}, "fast": {"hidden": 32}},
    "crypto": {"full": {}, "fast": {"lstm": (32, 16, 8), "dense": (16, 8)}},
    "attention": {"full": {}, "fast": {"lstm": (32, 16), "dense": (16, 8)}},
    "attention_ensemble": {
        "full": {},
        "fast": {
            "members": (
                {"lstm": (32, 16), "dropout": 0.2, "dense": (16, 8)},
                {"lstm": (48, 24), "dropout": 0.3, "dense": (24, 12)},
                {"lstm": (16, 8), "dropout": 0.1, "dense": (8, 4)},
            )
        },
    },
    "sltp": {"full": {}, "fast": {"hidden": 32}},
}


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/None -> CUDA when available, else CPU; anything else as torch.device."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} asked for, but torch sees no CUDA GPU; use --device auto or cpu "
                         "(device='auto' or 'cpu' from Python)")
    return device


def resolve_profile(profile: str, device: str | torch.device | None = "auto") -> str:
    """``"full"``/``"fast"`` as given; ``"auto"`` -> ``"full"`` on CUDA, ``"fast"`` otherwise."""
    if profile not in PROFILE_NAMES:
        raise ValueError(f"profile {profile!r} is unknown; use one of {PROFILE_NAMES}")
    if profile != "auto":
        return profile
    return "full" if resolve_device(device).type == "cuda" else "fast"


def profile_options(network: str, profile: str) -> dict[str, Any]:
    """Constructor overrides of a concrete profile (``"full"`` or ``"fast"``) for ``network``."""
    if network not in PROFILES:
        raise ValueError(f"network {network!r} is unknown; use one of {sorted(PROFILES)}")
    if profile not in ("full", "fast"):
        raise ValueError(f"profile {profile!r} is not concrete; resolve it first (resolve_profile)")
    return dict(PROFILES[network][profile])
