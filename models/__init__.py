"""bt models: torch networks, walk-forward training and batched inference."""

__all__: list[str] = []
