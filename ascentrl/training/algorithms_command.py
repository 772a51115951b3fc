"""A training script that trains any of several learners: ``--algo`` picks one, ``--env`` its task,
and a tuned preset for that pair (if there is one) supplies the defaults.

``main_with_algorithms(ALGORITHMS, presets, argv, doc=..., script=...)``, for
``scripts/train.py --algo {reinforce,a2c,ppo} --env ID [--preset ENV|none] [options]``:

1. ``--algo``, ``--env``, ``--preset`` and ``--resume`` are read first. With ``--resume`` the
   algorithm is the one that wrote the checkpoint (``--algo`` may repeat it, ``--preset`` is refused).
2. The preset of ``(algo, env)`` — or of ``(algo, --preset ENV)``, or none with ``--preset none`` —
   becomes the defaults of the chosen learner's options; any option given explicitly overrides it.
3. Everything else is :func:`ascentrl.training.command_line.main` for the chosen learner: the same
   checks, outputs, resume, signals and exit codes as every training script.

A script may name a ``default`` algorithm for when ``--algo`` is not given
(``scripts/train_multiagent.py``: ``reinforce``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ascentrl.checkpoints import CheckpointError, load_checkpoint
from ascentrl.cli import CommandLineParser, check_checkpoint_file, fail
from ascentrl.training import command_line
from ascentrl.training.learner import Learner

__all__ = ["main_with_algorithms"]


def _selector_options(algorithms: Mapping[str, type[Learner]]) -> Callable[[argparse.ArgumentParser], None]:
    def add(parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("algorithm")
        group.add_argument("--algo", choices=sorted(algorithms), help="The learner to train.")
        group.add_argument("--preset", metavar="ENV|none",
                           help="Start from the tuned preset of this env id (default: --env's), or none.")
    return add


def main_with_algorithms(algorithms: Mapping[str, type[Learner]], presets: Callable[[str, str], dict[str, Any]],
                         argv: Sequence[str] | None, *, doc: str, script: str, default: str | None = None) -> int:
    """Pick the learner and its preset, then run :func:`ascentrl.training.command_line.main`.

    ``default`` is the algorithm when ``--algo`` is not given (None: ``--algo`` is required)."""
    program = os.path.basename(script)
    selector = CommandLineParser(prog=program, add_help=False)
    _selector_options(algorithms)(selector)
    selector.add_argument("--env")
    selector.add_argument("--resume")
    selector.add_argument("-h", "--help", action="store_true")
    known, _ = selector.parse_known_args(argv)
    extra = _selector_options(algorithms)
    if known.resume is not None:
        if known.preset is not None:
            fail(selector, ValueError("--preset does not apply to --resume: a resumed run keeps its saved settings"))
        try:
            check_checkpoint_file("--resume", known.resume)
            kind = load_checkpoint(known.resume, None)["kind"]
        except (CheckpointError, ValueError) as error:
            fail(selector, error)
        names = [name for name, learner_class in algorithms.items() if learner_class.__name__ == kind]
        if not names or (known.algo is not None and known.algo != names[0]):
            fail(selector, ValueError(f"--resume {known.resume}: a {kind} checkpoint, not one of --algo "
                                      f"{known.algo or ', '.join(sorted(algorithms))}"))
        return command_line.main(algorithms[names[0]], argv, doc=doc, script=script, extra=extra)
    if known.algo is None:
        known.algo = default
    if known.algo is None:
        if known.help:
            known.algo = "ppo" if "ppo" in algorithms else sorted(algorithms)[0]
        else:
            fail(selector, ValueError(f"--algo is required: one of {', '.join(sorted(algorithms))}"))
    learner_class = algorithms[known.algo]
    env = known.env if known.env is not None else learner_class.config_class.__dataclass_fields__["env"].default
    preset_env = env if known.preset is None else known.preset
    preset = {} if preset_env == "none" else presets(known.algo, preset_env)
    if known.preset not in (None, "none") and not preset:
        fail(selector, ValueError(f"--preset {known.preset}: there is no {known.algo} preset for it"))
    announce = (f"{known.algo} on {env}: starting from the tuned preset for {preset_env} "
                f"({', '.join(f'{name}={value}' for name, value in preset.items())}); options given override it"
                if preset else None)
    return command_line.main(learner_class, argv, doc=doc, script=script, defaults=preset, extra=extra,
                             announce=announce)
