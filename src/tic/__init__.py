"""tic: text-guided image colorization (TIC, Ghosh et al.), at full resolution, on CPU or GPU.

>>> from tic import Colorizer
>>> colorizer = Colorizer.from_pretrained()          # the model shipped with tic
>>> colorizer("old_photo.jpg", "blue sky, red car").save("colorized.png")
"""

from tic.pipeline import Colorizer
from tic.version import __version__

__all__ = ["Colorizer", "__version__"]
