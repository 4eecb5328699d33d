"""Build-time tool: PP-OCRv6's recogniser and detector quantised to int8, from the float models the ``rapidocr``
wheel ships.

Usage: ``python -m s3ocr.engines.quantize OUT --pages PAGE...`` for the recogniser, with ``--detector`` for the
detector (``make`` runs both into ``src/s3ocr/engines/models/``; the image build refuses to go on without them).
It needs the ``onnx`` package (the ``dev`` extra), which the function never imports: at run time the file is
just another ONNX model.

How, and why this way (measured on the crops of the real Chinese pages, one thread, float model beside):

- *Static* quantisation (ONNX Runtime's ``quantize_static``, QDQ format): weights int8 per output channel,
  activations uint8 with ranges measured beforehand (``MinMax``) on the text lines of ``--pages``. The
  convolutions and matrix products run as int8 kernels: recognition took 45 % less CPU for the same text
  (bag-of-characters F1 0.9896 against 0.9898). *Dynamic* quantisation, which ONNX Runtime's own tool does
  without calibration, quantises the convolutions to ``ConvInteger``, which has no fast kernel: 3.3× slower.
- The ranges come from the repository's own test pages (a real English scan, a rendered two-column page,
  rendered Chinese lines), detected and cut as the engine does, so the model is rebuilt the same anywhere
  without the evaluation corpus. Calibrated on rendered corpus pages instead, the scores were the same.
- Before quantising, the layer normalisations and GELUs are fused into one operator each (ONNX Runtime's
  transformer fusions; ``fused``). ONNX Runtime fuses them itself in the float model, but not across the
  quantised graph's ``DequantizeLinear`` nodes: unfused, they ran as a dozen element-wise operators each, 12 %
  of a line's kernel time. Fused, the real pages through ``auto`` (two runs each, one core) took 10 % less CPU
  on the Chinese pages and 4 % less on the English ones, and read the same (zh bag-F1 0.989, CER 0.092).
- The float model is opset 11; the int8 bias of a per-channel convolution needs ``DequantizeLinear`` with an
  axis (opset 13), so the graph is converted to opset 17 first. The character list stays in the model's
  metadata, where RapidOCR reads it.

``--detector`` quantises the detector the same way, calibrated on the same pages as the engine's detector reads
them (``rapidocr.detection_input``). Pages of Latin text only use it (``rapidocr.DET_MODEL_LATIN``). On the
real English pages (two receipts and two forms asked PP-OCRv6), the text was the same or better: forms' CER
0.035 -> 0.031 and 0.028 -> 0.023. On Chinese pages it found some lines differently (a signboard photo's
Latin line read worse, a rendered page turned a quarter lost a few characters), so they keep the float one.

``--latin-from INT8`` writes a second recogniser from the int8 one (``latin_only``): the same network with
the last layer cut to the 1,748 characters below the CJK blocks (Latin, Greek, punctuation, symbols), the
CTC blank and the space, out of 18,710. Pages read with Latin languages only (``eng``) use it. That layer and
its softmax over every class were 15 % of a line's time: on the real English pages the lines took 16 % less
recognition CPU, every line read the same but two lines of a receipt, where characters of CJK punctuation
and ideographs became the Latin ones they look like (bag-F1 0.783 -> 0.804).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

OPSET = 17
# The Latin recogniser keeps the characters below the CJK blocks (U+3000: CJK punctuation, kana, ideographs,
# and the full-width forms above them): Latin letters, Greek, punctuation, arrows, maths and other symbols.
LATIN_BELOW = 0x3000


def calibration_inputs(pages: Sequence[Path]) -> Iterator[Any]:
    """The recogniser's input for every text line the engine's detector finds on ``pages``, one line at a time,
    sized as the engine reads it (``rapidocr.Rec.rec_img_shape``: height 48, the line's own width)."""
    import cv2

    from s3ocr.engines.rapidocr import _Reader

    reader = _Reader()
    for page in pages:
        image = cv2.imread(str(page), cv2.IMREAD_COLOR)
        if image is None:
            raise SystemExit(f"{page}: not an image OpenCV reads")
        _, crops = reader.lines(image)
        for crop in crops:
            ratio = max(1.0, crop.shape[1] / crop.shape[0])
            yield reader.recognizer.resize_norm_img(crop, ratio)[None]


def detector_inputs(pages: Sequence[Path]) -> Iterator[Any]:
    """The detector's input for each of ``pages``, as the engine's float detector gets it (the page at most
    ``DET_MAX_SIDE`` px on its longer side, normalised and rounded to a multiple of 32 by RapidOCR)."""
    import cv2

    from s3ocr.engines.rapidocr import MODELS, detection_input

    detector = MODELS.detector()  # the float one, without the recogniser a reader loads too
    for page in pages:
        image = cv2.imread(str(page), cv2.IMREAD_COLOR)
        if image is None:
            raise SystemExit(f"{page}: not an image OpenCV reads")
        tensor = detector.get_preprocess()(detection_input(image)[0])
        if tensor is not None:
            yield tensor


def fused(model: Any) -> Any:
    """``model`` with its layer normalisations and GELUs written as one operator each (ONNX Runtime's own
    fusions). ONNX Runtime fuses them itself when it loads a float model, but not once quantisation has put
    ``DequantizeLinear`` nodes between their parts: they would run as a dozen element-wise operators each."""
    from onnxruntime.transformers.fusion_gelu import FusionGelu
    from onnxruntime.transformers.fusion_layernorm import FusionLayerNormalization
    from onnxruntime.transformers.onnx_model import OnnxModel

    graph = OnnxModel(model)
    FusionLayerNormalization(graph).apply()
    FusionGelu(graph).apply()
    graph.prune_graph()
    return graph.model


def quantize(source: Path, out: Path, pages: Sequence[Path], detector: bool = False) -> None:
    """Write ``source`` (the float recogniser, or the float detector: ``detector``) quantised to int8 as ``out``,
    calibrated on ``pages``."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    inputs = list(detector_inputs(pages) if detector else calibration_inputs(pages))
    if not inputs:
        raise SystemExit("no text lines found on the calibration pages")
    name = onnx.load(str(source), load_external_data=False).graph.input[0].name

    class Lines(CalibrationDataReader):
        def __init__(self) -> None:
            self._lines = iter(inputs)

        def get_next(self) -> dict[str, Any] | None:
            line = next(self._lines, None)
            return None if line is None else {name: line}

    with tempfile.TemporaryDirectory(prefix="s3ocr-quantize-") as tmp:
        inferred = Path(tmp) / "inferred.onnx"
        quant_pre_process(str(source), str(inferred), skip_symbolic_shape=True)
        converted = Path(tmp) / f"opset{OPSET}.onnx"
        onnx.save(fused(version_converter.convert_version(onnx.load(str(inferred)), OPSET)), str(converted))
        partial = out.with_name(out.name + ".partial")
        out.parent.mkdir(parents=True, exist_ok=True)
        quantize_static(str(converted), str(partial), Lines(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, op_types_to_quantize=["Conv", "MatMul"])
        os.replace(partial, out)  # whole or not at all: a half-written model never looks built


def latin_only(source: Path, out: Path) -> int:
    """Write ``source`` (a recogniser quantised by ``quantize``) with its classifier cut to the blank, the
    characters below ``LATIN_BELOW`` and the space, as ``out``; the number of classes kept.

    The classifier is the graph's last steps: ``MatMul`` (its weight dequantized per class) -> quantize and
    dequantize -> ``Add`` (a bias per class) -> ``Softmax``, the output. The classes are RapidOCR's: the
    blank first, then the model's character list (its ``character`` metadata), then the space."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    made_by = {output: node for node in graph.node for output in node.output}
    weights = {tensor.name: tensor for tensor in graph.initializer}

    def parent(node: Any, op_type: str, of_weights: bool = False) -> Any:
        found = [made_by[name] for name in node.input if name in made_by and made_by[name].op_type == op_type
                 and (not of_weights or made_by[name].input[0] in weights)]
        if len(found) != 1:
            raise SystemExit(f"{source}: not the recogniser's classifier ({node.op_type} has no one {op_type})")
        return found[0]

    softmax = made_by[graph.output[0].name]
    bias_add = parent(softmax, "Add")
    matmul = parent(parent(parent(bias_add, "DequantizeLinear"), "QuantizeLinear"), "MatMul")
    weight = parent(matmul, "DequantizeLinear", of_weights=True)
    metadata = {prop.key: prop for prop in model.metadata_props}
    characters = metadata["character"].value.split("\n")
    latin = [i for i, character in enumerate(characters) if character and max(map(ord, character)) < LATIN_BELOW]
    classes = np.array([0, *(1 + i for i in latin), len(characters) + 1])  # blank, characters, space
    per_class = [(name, 1 if name == weight.input[0] else 0) for name in weight.input]
    per_class += [(name, 0) for name in bias_add.input if name in weights]
    for name, axis in per_class:
        values = numpy_helper.to_array(weights[name])
        if values.shape[axis] != len(characters) + 2:
            raise SystemExit(f"{source}: {name} does not hold one value per class")
        weights[name].CopyFrom(numpy_helper.from_array(np.take(values, classes, axis=axis), name))
    graph.output[0].type.tensor_type.shape.dim[-1].dim_value = len(classes)
    # Shapes recorded for the old width would contradict the new one; ONNX Runtime infers them again.
    inferred = [info for info in graph.value_info
                if all(dim.dim_value != len(characters) + 2 for dim in info.type.tensor_type.shape.dim)]
    del graph.value_info[:]
    graph.value_info.extend(inferred)
    metadata["character"].value = "\n".join(characters[i] for i in latin)
    partial = out.with_name(out.name + ".partial")
    onnx.save(model, str(partial))
    os.replace(partial, out)
    return len(classes)


def main(argv: Sequence[str] | None = None) -> int:
    from s3ocr.engines.rapidocr import DET_MODEL, REC_MODEL, model_dir

    parser = argparse.ArgumentParser(prog="python -m s3ocr.engines.quantize", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where to write the int8 recogniser (or, with --latin-from, the "
                                               "Latin one; with --detector, the int8 detector)")
    parser.add_argument("--detector", action="store_true", help="quantise the detector instead of the recogniser")
    pick = parser.add_mutually_exclusive_group(required=True)
    pick.add_argument("--pages", type=Path, nargs="+", help="page images to calibrate on")
    pick.add_argument("--latin-from", type=Path, metavar="INT8", help="cut this int8 recogniser's classifier to "
                                                                     "the Latin characters")
    args = parser.parse_args(argv)
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    if args.latin_from:
        classes = latin_only(args.latin_from, args.out)
        print(f"{args.out}: {classes} classes, {args.out.stat().st_size / 1e6:.1f} MB", flush=True)
        return 0
    quantize(model_dir() / (DET_MODEL if args.detector else REC_MODEL), args.out, args.pages, args.detector)
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.1f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
