"""Progress bars for training loops (tqdm, loaded only when a bar is shown)."""

from __future__ import annotations


def epoch_bar(total: int, initial: int, enabled: bool, desc: str):
    """A tqdm bar over epochs starting at ``initial`` (a resumed run), or None when disabled."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="epoch", leave=False)
