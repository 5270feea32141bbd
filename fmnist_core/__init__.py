"""Fashion-MNIST Studio core: data, models, training, run store, jobs, charts.

Nothing in this package imports Streamlit. Heavy modules (TensorFlow/Keras) are
imported lazily by the modules that need them, so `fmnist_core.data` stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"
