"""The bundled styles' recipes and scripts/train_styles.py, which turns them into `faststyle train` commands."""

from __future__ import annotations

import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from faststyle.styles import bundled_style_names

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train_styles.py"
STAGES = {"cpu": [], "lite": ["--lite"], "gpu": ["--gpu"], "gpu-lite": ["--gpu", "--lite"]}


def script_commands(tmp_path: Path, *flags: str) -> list[list[str]]:
    """Every command train_styles.py would run, parsed."""
    out = subprocess.run([sys.executable, str(SCRIPT), "--styles-dir", "paintings", "--content-dir", "photos",
                          "--runs-dir", str(tmp_path / "runs"), "--output-dir", str(tmp_path / "models"),
                          "--dry-run", *flags], capture_output=True, text=True, check=True).stdout
    return [shlex.split(line[2:]) for line in out.splitlines() if line.startswith("$ ")]


def dry_run(tmp_path: Path, *flags: str) -> dict[str, list[str]]:
    """The training command for each style."""
    return {Path(option(cmd, "--run-dir")).name.split("-")[0]: cmd  # NAME[-STAGE][-lite]
            for cmd in script_commands(tmp_path, *flags) if cmd[3] == "train"}


def int8_exports(tmp_path: Path, *flags: str) -> dict[str, list[str]]:
    """The first `faststyle export --int8` command run after each style's training (a quick recipe's
    second one exports its lite network)."""
    exports: dict[str, list[str]] = {}
    for cmd in script_commands(tmp_path, *flags):
        if cmd[3] == "export":
            exports.setdefault(Path(cmd[4]).stem, cmd)
    return exports


def option(cmd: list[str], flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


def test_every_bundled_style_has_a_recipe_with_every_stage():
    for name in bundled_style_names():
        recipe = tomllib.loads((ROOT / "recipes" / f"{name}.toml").read_text())
        if recipe["train"].get("schedule") == "quick":  # the default path: full and lite in one run
            further = {"cpu", "cpu2", "cpu256", "cpu256_2", "cpu256_3", "cpu_lite"}  # more falls for the full network
            assert set(recipe) - further == {"painting", "train"} and "steps" not in recipe["train"], name
            assert ("cpu" in recipe) == ("cpu_lite" in recipe), name  # a further CPU stage, for both networks
        else:
            assert {"painting", "train", "lite", "gpu", "gpu_lite"} <= set(recipe), name


def quick_styles() -> set[str]:
    """Bundled styles made with the quick path (`faststyle train PAINTING`), which have no GPU or lite stages."""
    return {n for n in bundled_style_names()
            if tomllib.loads((ROOT / "recipes" / f"{n}.toml").read_text())["train"].get("schedule") == "quick"}


def test_quick_recipes_run_the_default_command_and_export_both_networks_in_int8(tmp_path):
    commands = dry_run(tmp_path)
    exports = [cmd for cmd in script_commands(tmp_path) if cmd[3] == "export"]
    for name in quick_styles():
        cmd = commands[name]
        assert option(cmd, "--schedule") == "quick" and "--steps" not in cmd and "--init-from" not in cmd
        written = {Path(c[4]) for c in exports}
        assert {tmp_path / "models" / f"{name}.onnx", tmp_path / "models" / "lite" / f"{name}.onnx"} <= written


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_gives_every_style_a_train_command(tmp_path, stage):
    commands = dry_run(tmp_path, *STAGES[stage])
    assert set(commands) == set(bundled_style_names()) - (quick_styles() if stage != "cpu" else set())
    for name, cmd in commands.items():
        assert cmd[1:3] == ["-m", "faststyle"] and cmd[3] == "train"
        assert "bsds500/val_*" in cmd  # the validation photos never train
        lite = "lite" in stage
        assert (option(cmd, "--arch") == "lite") if lite else ("--arch" not in cmd)
        expected_output = tmp_path / "models" / ("lite" if lite else "") / f"{name}.onnx"
        assert Path(option(cmd, "-o")) == expected_output


@pytest.mark.parametrize("stage", STAGES)
def test_a_recipe_without_a_schedule_trains_the_long_schedule(tmp_path, stage):
    """`faststyle train` takes the quick path unless told otherwise; a recipe written for a long run
    (its steps, loss weights and no lite stage of its own) must not get the quick path's loss terms."""
    for name, cmd in dry_run(tmp_path, *STAGES[stage]).items():
        expected = "quick" if name in quick_styles() and stage == "cpu" else "long"
        assert option(cmd, "--schedule") == expected, name


def test_the_shift_stage_continues_the_bundled_networks_with_the_shift_term(tmp_path):
    """`--stage shift` (docs/video.md, "Training for shift consistency"): the bundled networks go on
    with the term that compares pictures of moved crops, on whole 256 px crops."""
    full, lite = dry_run(tmp_path, "--stage", "shift"), dry_run(tmp_path, "--stage", "shift", "--lite")
    assert "starry_night" in full and "starry_night" in lite  # the style furthest from the target had it
    bundled = ROOT / "faststyle" / "models"
    for networks, sub in ((full, ""), (lite, "lite/")):
        for name, cmd in networks.items():
            assert float(option(cmd, "--shift-weight")) > 0 and option(cmd, "--shift-by") == "stride"
            assert option(cmd, "--crop-size") == "256" and option(cmd, "--schedule") == "long"
            assert Path(option(cmd, "--init-from")) == bundled / f"{sub}{name}.onnx"


def test_gpu_stages_continue_the_bundled_models_on_whole_256_px_photos(tmp_path):
    for flags, sub in ((["--gpu"], ""), (["--gpu", "--lite"], "lite/")):
        for name, cmd in dry_run(tmp_path, *flags).items():
            assert option(cmd, "--crop-size") == "256"
            assert Path(option(cmd, "--init-from")) == ROOT / "faststyle" / "models" / f"{sub}{name}.onnx"


def test_lite_networks_learn_from_the_full_model_in_the_output_folder(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "wave.onnx").write_bytes(b"stands in for a freshly trained full model")
    commands = dry_run(tmp_path, "--lite")
    assert Path(option(commands["wave"], "--teacher")) == tmp_path / "models" / "wave.onnx"
    assert option(commands["starry_night"], "--teacher") == "starry_night"  # else the installed style


def test_a_run_folder_that_exists_is_resumed(tmp_path):
    (tmp_path / "runs" / "wave").mkdir(parents=True)
    (tmp_path / "runs" / "wave" / "config.json").write_text("{}")
    cmd = dry_run(tmp_path, "--only", "wave")["wave"]
    assert cmd[-1] == "--resume" and "--content-dir" not in cmd  # a resumed run keeps its stored settings


@pytest.mark.parametrize("stage", STAGES)
def test_networks_are_re_exported_int8_from_the_training_photos(tmp_path, stage):
    exports = int8_exports(tmp_path, *STAGES[stage])
    assert set(exports) == set(bundled_style_names()) - (quick_styles() if stage != "cpu" else set())
    for name, cmd in exports.items():
        folder = tmp_path / "models" / ("lite" if "lite" in stage else "")
        assert Path(cmd[4]) == folder / f"{name}.onnx"  # the file training just wrote
        assert option(cmd, "--int8") == "photos" and option(cmd, "--exclude") == "bsds500/val_*"


def test_a_cpu_stage_continues_the_bundled_networks_in_their_own_run_folders(tmp_path):
    """`--stage cpu` (a quick-path style's further stage): the bundled full network goes on with the
    recipe's [cpu] table; with --lite, the bundled lite network learns from the full one."""
    staged = {n for n in bundled_style_names()
              if "cpu" in tomllib.loads((ROOT / "recipes" / f"{n}.toml").read_text())}
    assert staged  # udnie has one
    full, lite = dry_run(tmp_path, "--stage", "cpu"), dry_run(tmp_path, "--stage", "cpu", "--lite")
    assert set(full) == set(lite) == staged
    bundled = ROOT / "faststyle" / "models"
    for name in staged:
        assert option(full[name], "--init-from") == str(bundled / f"{name}.onnx")
        assert option(full[name], "--schedule") == "long"  # the recipe's steps, not the quick path's
        assert Path(option(full[name], "--run-dir")).name == f"{name}-cpu"
        assert option(lite[name], "--init-from") == str(bundled / "lite" / f"{name}.onnx")
        assert option(lite[name], "--arch") == "lite" and option(lite[name], "--teacher").endswith(name)
        assert Path(option(lite[name], "--run-dir")).name == f"{name}-cpu-lite"
    # more falls ([cpu2]; [cpu256] and later ones on whole 256 px crops) continue what the stages
    # before left in the bundled model, each in a folder of its own
    for table, crop in (("cpu2", "128"), ("cpu256", "256"), ("cpu256_2", "256"), ("cpu256_3", "256")):
        more = {n for n in staged if table in tomllib.loads((ROOT / "recipes" / f"{n}.toml").read_text())}
        assert more  # at least one style has each (shipwreck [cpu2] and [cpu256], woman_with_hat the later ones)
        commands = dry_run(tmp_path, "--stage", table)
        assert set(commands) == more
        for name in more:
            assert option(commands[name], "--init-from") == str(bundled / f"{name}.onnx")
            assert option(commands[name], "--crop-size") == crop
            assert Path(option(commands[name], "--run-dir")).name == f"{name}-{table}"
