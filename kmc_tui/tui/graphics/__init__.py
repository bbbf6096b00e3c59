"""Pictures in the terminal: which graphics protocol, the escape sequences, terminal palettes.

No Textual here: the preview widget draws with these.
"""

from .detection import ENVIRONMENT_VARIABLE, PROTOCOLS, Graphics, detect

__all__ = ["ENVIRONMENT_VARIABLE", "PROTOCOLS", "Graphics", "detect"]
