"""faststyle: fast neural style transfer (Johnson et al. 2016) that runs anywhere.

    import faststyle
    faststyle.stylize("photo.jpg", "wave").save("photo.wave.jpg")
    wave = faststyle.load_style("wave")          # one ONNX Runtime session for many images
    faststyle.stylize(image_array, wave, strength=0.8, preserve_colors=True)
"""

__version__ = "0.1.0"

from faststyle.api import blend, load_style, stylize, stylize_file, swatch  # noqa: E402
from faststyle.errors import FaststyleError  # noqa: E402
from faststyle.runtime import CancelToken, Cancelled  # noqa: E402
from faststyle.styles import available_styles  # noqa: E402

__all__ = ["CancelToken", "Cancelled", "FaststyleError", "available_styles", "blend", "load_style", "stylize", "stylize_file",
           "swatch", "__version__"]
