"""ascentrl: learning as gradient ascent on the objective you want to maximize.

Sign convention, everywhere in this library: objectives are **maximized**. Compute the
objective ``J``, call ``J.backward()`` and then ``optimizer.step()``; ``J`` goes up.
Never negate an objective to turn it into a loss.
"""

__version__ = "0.2.0"

from ascentrl.ascent import Ascent, NonFiniteGradientError, StepStats
from ascentrl.escape import EscapeStrategy, GradientNoise, PerturbedAscent
from ascentrl.gradient_ascent import GradientAscent

__all__ = [
    "Ascent",
    "EscapeStrategy",
    "GradientAscent",
    "GradientNoise",
    "NonFiniteGradientError",
    "PerturbedAscent",
    "StepStats",
]
