"""Where progress messages go: any function of one string (`print` by default, a tqdm-safe writer in runs)."""

from typing import Callable

Log = Callable[[str], None]
