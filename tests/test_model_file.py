"""The model file: its card written and read in one module, and every older layout upgraded."""

from pathlib import Path

import onnx
import onnxruntime as ort
import pytest

from faststyle.architecture import Architecture, preset
from faststyle.errors import FaststyleError
from faststyle.model_file import CARD_KEY, ModelCard, card_from_session, read_card, stored_stats_graph, upgrade
from faststyle.training.config import LossConfig
from tests.conftest import random_transform_net

PACKAGE = Path(__file__).resolve().parents[1] / "faststyle"


def test_old_cards_are_upgraded_to_todays_layout():
    # before the architecture was recorded: width and norm only, or neither (instance norm throughout)
    assert ModelCard.from_dict({"width": 32, "norm": "demod"}).network() == preset("full")
    assert ModelCard.from_dict({}).network() == Architecture(norm="instance")
    # lite models from before `fold` existed keep their full-resolution layout
    old_lite = {"width": 16, "residual_blocks": 3, "edge_kernel": 3, "norm": "demod"}
    assert ModelCard.from_dict({"architecture": old_lite}).network() == preset("lite", fold=False)
    # the loss as a `weights` object beside loss_net and style_size
    old = {"weights": {"content": 1.5, "style": 3.0, "tv": 0.1, "range": 10.0}, "loss_net": "vgg19", "style_size": 384}
    loss = LossConfig.from_card(ModelCard.from_dict(old))
    assert (loss.content_weight, loss.style_weight, loss.tv_weight, loss.range_weight) == (1.5, 3.0, 0.1, 10.0)
    assert (loss.loss_net, loss.style_size) == ("vgg19", 384)
    assert LossConfig.from_card(ModelCard.from_dict({})) == LossConfig()
    assert "weights" not in upgrade(old) and upgrade(old)["loss"]["loss_net"] == "vgg19"


def test_a_card_survives_export_and_keeps_what_it_does_not_know(tmp_path):
    from faststyle.training.export import export_onnx

    path = tmp_path / "m.onnx"
    net = random_transform_net(width=4)
    export_onnx(net, path, ModelCard(name="m", title="Wheat", year="1889", steps=7,
                                     int8_calibration="left out: a float graph", extra={"museum": "somewhere"}))
    card = read_card(path)
    assert (card.name, card.title, card.year, card.steps) == ("m", "Wheat", "1889", 7)
    assert card.extra == {"museum": "somewhere"}
    assert card.network() == net.architecture  # export records the network it wrote
    assert card.int8 is None and card.int8_calibration is None  # int8 notes only on an int8 graph
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert card_from_session(session) == card
    # the encoder travels beside the card, read the same from a session and from the file
    assert stored_stats_graph(session) == stored_stats_graph(onnx.load(str(path)))
    assert onnx.load_from_string(stored_stats_graph(session)).graph.output


def test_rewrite_card_sets_and_removes_fields_and_keeps_the_network(tmp_path):
    from faststyle.model_file import rewrite_card
    from faststyle.training.export import export_onnx

    path = tmp_path / "m.onnx"
    export_onnx(random_transform_net(width=4), path, ModelCard(name="m", title="Wheat", painting_thumbnail="abc"))
    graph = onnx.load(str(path)).graph.SerializeToString()
    rewrite_card(path, painting_thumbnail=None, artist="Vincent van Gogh")
    card = read_card(path)
    assert (card.name, card.title, card.artist, card.painting_thumbnail) == ("m", "Wheat", "Vincent van Gogh", None)
    assert onnx.load(str(path)).graph.SerializeToString() == graph


@pytest.mark.parametrize("stored", ["[1, 2, 3]", "not json", '"a string"'])
def test_a_foreign_card_reads_as_empty(tmp_path, stored):
    from faststyle.model_file import set_model_props
    from faststyle.training.export import to_onnx

    proto = to_onnx(random_transform_net(width=4), {"title": "x"}, half=False)
    set_model_props(proto, {CARD_KEY: stored})
    path = tmp_path / "foreign.onnx"
    path.write_bytes(proto.SerializeToString())
    assert read_card(path) == ModelCard.from_dict({})


@pytest.mark.parametrize("card", [{"width": "wide"}, {"architecture": {"width": 4, "wings": 2}},
                                  {"architecture": [1, 2]}])
def test_a_card_with_no_usable_network_shape_is_one_line(card):
    with pytest.raises(FaststyleError, match="no usable network shape"):
        ModelCard.from_dict(card).network()


def test_no_other_module_reads_or_writes_the_model_files_metadata():
    readers = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
               if any(s in p.read_text() for s in ("custom_metadata_map", "metadata_props"))]
    assert readers == ["model_file.py"]
