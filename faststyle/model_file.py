"""The model file: a style network in ONNX, plus its card (what it is and how it was made).

A faststyle .onnx file carries, in the ONNX model's metadata:
- CARD_KEY: the card, JSON (`ModelCard`): the network's shape, the loss it was trained with, the
  painting's title and artist, how it was trained;
- STATS_GRAPH_KEY: the encoder alone as a serialised ONNX graph (base64), which tiling runs to
  take one set of normalisation statistics for the whole image (runtime.StyleModel.stats_session).

This module is the one place that reads and writes them, and `upgrade` is the one place that
knows older cards. It needs ONNX Runtime to read and nothing of Keras.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

from faststyle.architecture import Architecture
from faststyle.errors import FaststyleError

CARD_KEY = "faststyle"
STATS_GRAPH_KEY = "faststyle_stats_graph"


@dataclass
class ModelCard:
    """What a model file says about itself. Every field may be absent in a file: a model written
    by hand, or by an older version (see `upgrade`), carries less."""

    architecture: dict = field(default_factory=dict)   # Architecture.to_dict(): the network's shape
    loss: dict = field(default_factory=dict)           # training.config.LossConfig.to_dict()
    name: str | None = None
    title: str | None = None                           # the painting's
    artist: str | None = None
    year: str | None = None
    licence: str | None = None
    style_image: str | None = None                     # the painting's file name
    painting_thumbnail: str | None = None              # a small JPEG of it (image_io.thumbnail_text)
    painting_url: str | None = None                    # or where its photograph is published (paintings.py)
    painting_sha256: str | None = None                 # ... and that file's checksum
    loss_layers: dict | None = None
    teacher: str | None = None                         # a lite network: the style it was distilled from
    steps: int | None = None
    final_losses: dict = field(default_factory=dict)
    image_size: int | None = None
    crop_size: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    learning_rate_end: float | None = None
    precision: str | None = None
    init_from: str | None = None
    trained_on: str | None = None
    date: str | None = None
    faststyle_version: str | None = None
    int8: dict | None = None                           # ranges of the residual blocks run in int8
    int8_calibration: str | None = None
    extra: dict = field(default_factory=dict)          # anything else given with `train --meta`

    @classmethod
    def from_dict(cls, card: Any) -> "ModelCard":
        """A stored card, of any version; anything that is not a JSON object reads as an empty card."""
        card = upgrade(card if isinstance(card, dict) else {})
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        return cls(**{k: v for k, v in card.items() if k in known},
                   extra={k: v for k, v in card.items() if k not in known})

    def to_dict(self) -> dict:
        """The card as stored: fields that are set, and the extra ones beside them."""
        stored = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**self.extra, **{k: v for k, v in stored.items() if v not in (None, {}, "")}}

    def network(self) -> Architecture:
        try:
            return Architecture(**self.architecture)
        except (TypeError, ValueError) as exc:  # an edited or foreign card
            raise FaststyleError(f"the model's card gives no usable network shape ({str(exc)[:80]})") from None

    def painting(self):
        """The painting's own thumbnail (PIL image), or None: the bundled styles carry none (their
        paintings' pictures are not the project's to ship; paintings.painting fetches them)."""
        from faststyle.image_io import image_from_text

        return image_from_text(self.painting_thumbnail) if isinstance(self.painting_thumbnail, str) else None


def upgrade(card: dict) -> dict:
    """A card of any version, in today's layout. Older cards kept:
    - the network as top-level `width` and `norm` (and before `norm`, instance norm throughout);
    - the loss as a `weights` object plus top-level `loss_net` and `style_size`."""
    card = dict(card)
    if "architecture" not in card:
        try:
            card["architecture"] = {"width": int(card.pop("width", 32)), "norm": card.pop("norm", "instance")}
        except (TypeError, ValueError):
            card["architecture"] = {"width": None}  # refused, in one line, when the network is asked for
    if "loss" not in card:
        weights = card.pop("weights", None)
        weights = weights if isinstance(weights, dict) else {}
        names = {"content": "content_weight", "style": "style_weight", "tv": "tv_weight",
                 "style_layers": "style_layer_weights", "range": "range_weight"}
        card["loss"] = {new: weights[old] for old, new in names.items() if old in weights}
        for key in ("loss_net", "style_size"):
            if key in card:
                card["loss"][key] = card.pop(key)
    return card


# --- reading -------------------------------------------------------------------------------

def read_card(path: str | os.PathLike) -> ModelCard:
    """The card stored in a model file, read without preparing the network to run."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise session_error(path, exc) from None
    return card_from_session(session)


def card_from_session(session) -> ModelCard:
    """The card of a model open in ONNX Runtime; one that is not JSON (a foreign or edited file) is empty."""
    try:
        return ModelCard.from_dict(json.loads(_props(session).get(CARD_KEY, "{}")))
    except json.JSONDecodeError:
        return ModelCard.from_dict({})


def stored_stats_graph(model) -> bytes | None:
    """The serialised encoder stored beside the network, from an ONNX Runtime session or an
    onnx.ModelProto; None in models exported before it (and with instance norm throughout)."""
    text = _props(model).get(STATS_GRAPH_KEY)
    return base64.b64decode(text) if text else None


def _props(model) -> dict:
    if hasattr(model, "metadata_props"):  # onnx.ModelProto
        return {p.key: p.value for p in model.metadata_props}
    return model.get_modelmeta().custom_metadata_map


def session_error(path: str | os.PathLike, exc: Exception) -> FaststyleError:
    """One line for a model ONNX Runtime would not load: a damaged file, or a runtime too old for it."""
    import onnxruntime as ort

    first_line = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
    if "NOT_IMPLEMENTED" in first_line:  # a valid graph with an operator this version lacks
        return FaststyleError(f"{path}: ONNX Runtime {ort.__version__} cannot run this model ({first_line}); "
                              "upgrade it: pip install -U onnxruntime")
    return FaststyleError(f"{path}: not a valid ONNX style model ({first_line})")


# --- writing -------------------------------------------------------------------------------

def model_props(card: ModelCard | None, encoder: bytes | None = None) -> dict[str, str]:
    """The ONNX metadata entries of a model file: its card and the serialised encoder, each if given."""
    props = {CARD_KEY: json.dumps(card.to_dict(), sort_keys=True)} if card is not None else {}
    if encoder is not None:
        props[STATS_GRAPH_KEY] = base64.b64encode(encoder).decode("ascii")
    return props


def set_model_props(proto, props: dict[str, str]) -> None:
    """Writes `props` into an onnx.ModelProto's metadata, keeping entries it does not name."""
    entries = {p.key: p for p in proto.metadata_props}
    for key, value in props.items():
        if key in entries:
            entries[key].value = value
        else:
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value


def rewrite_card(path: str | os.PathLike, **fields: Any) -> None:
    """Rewrites a model file's card with `fields` set (None removes one), the network byte for byte."""
    import onnx

    from faststyle.files import atomic_write_bytes

    proto = onnx.load(str(path))
    card = {**card_from_session(proto).to_dict(), **fields}
    set_model_props(proto, model_props(ModelCard.from_dict({k: v for k, v in card.items() if v is not None})))
    atomic_write_bytes(path, proto.SerializeToString())
