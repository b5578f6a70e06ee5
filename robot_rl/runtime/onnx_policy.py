"""An exported actor as a plain callable: raw observation in, action in [-1, 1] out, via onnxruntime.

Why a class of its own: evaluation, the deploy runner and the benchmark all need "the ONNX policy",
with one session configuration (one intra- and one inter-op thread: a control loop wants low,
steady latency, not throughput, and must not fight the robot driver for cores) and one fast path
for batch 1 (input and output bound once to preallocated buffers with IOBinding, so a control step
allocates nothing on the ONNX side).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from robot_rl.errors import PolicyContractError
from robot_rl.runtime.card import (
    INPUT_NAME,
    OUTPUT_NAME,
    check_onnx_file,
    read_card,
)

__all__ = ["OnnxPolicy", "load_policy_folder", "session_options"]


def session_options(threads: int = 1) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: a control loop's console is not a log
    return options


class OnnxPolicy:
    """``policy(obs) -> action``: obs of shape (obs_size,) or (B, obs_size), action of (act_size,) or (B, act_size).

    Construct from a policy folder with :func:`load_policy_folder` (which checks the model card and
    file hash), or from an ONNX file or its bytes directly. ``card`` is the model card (or None).
    """

    def __init__(self, model: str | Path | bytes, card: dict[str, Any] | None = None, threads: int = 1):
        self.card = card
        source = model if isinstance(model, bytes) else str(model)
        try:
            self.session = ort.InferenceSession(source, session_options(threads), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types (Fail, InvalidGraph, ...)
            where = "ONNX bytes" if isinstance(model, bytes) else str(model)
            raise PolicyContractError(f"{where}: onnxruntime {ort.__version__} cannot load the model: {exc}") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise PolicyContractError(
                f"policy model has inputs {[i.name for i in inputs]} and outputs "
                f"{[o.name for o in outputs]}; expected one observation input and one action "
                "output"
            )
        self.input_name, self.output_name = inputs[0].name, outputs[0].name
        self.obs_size = _feature_size(inputs[0].shape, "input", inputs[0].name)
        self.act_size = _feature_size(outputs[0].shape, "output", outputs[0].name)
        if inputs[0].type != "tensor(float)" or outputs[0].type != "tensor(float)":
            raise PolicyContractError(
                f"policy model's input is {inputs[0].type} and output {outputs[0].type}; "
                "expected tensor(float) (float32)"
            )
        # Batch-1 fast path: bind preallocated buffers once; `act1` writes into `_obs1` and reads `_act1`.
        self._obs1 = np.zeros((1, self.obs_size), np.float32)
        self._act1 = np.zeros((1, self.act_size), np.float32)
        self._binding = self.session.io_binding()
        self._binding.bind_input(self.input_name, "cpu", 0, np.float32, self._obs1.shape, self._obs1.ctypes.data)
        self._binding.bind_output(self.output_name, "cpu", 0, np.float32, self._act1.shape, self._act1.ctypes.data)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        x = np.asarray(obs, dtype=np.float32)
        if x.ndim == 1:
            return self.act1(x).copy()
        if x.ndim != 2 or x.shape[1] != self.obs_size:
            raise ValueError(
                f"observation has shape {x.shape}; this policy takes ({self.obs_size},) or (batch, {self.obs_size})"
            )
        return self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(x)})[0]

    def act1(self, obs: np.ndarray) -> np.ndarray:
        """One observation -> one action, through the bound buffers. Returns a view that the next call
        overwrites: copy it if you keep it."""
        self._obs1[0] = obs
        self.session.run_with_iobinding(self._binding)
        return self._act1[0]


def _feature_size(shape: list, kind: str, name: str) -> int:
    if len(shape) != 2 or not isinstance(shape[1], int):
        raise PolicyContractError(f"policy model {kind} '{name}' has shape {shape}; expected [batch, n] with a fixed n")
    return shape[1]


def load_policy_folder(path: str | Path, threads: int = 1) -> OnnxPolicy:
    """Load `policy.onnx` from a policy folder after checking it against its card (hash, opset, shapes).

    This checks the pair only; :class:`robot_rl.runtime.PolicyRunner` also checks the card against
    the robot it is asked to drive. ``policy.card["task"]`` names the task the policy was trained on.
    """
    card, card_path, onnx_path = read_card(path)
    data = check_onnx_file(card, card_path, onnx_path)
    policy = OnnxPolicy(data, card=card, threads=threads)
    onnx_card = card["onnx"]
    for kind, name, size, expected_name, section in (
        ("input", policy.input_name, policy.obs_size, INPUT_NAME, "observation"),
        ("output", policy.output_name, policy.act_size, OUTPUT_NAME, "action"),
    ):
        card_size = card[section].get("size")
        if size != card_size:
            raise PolicyContractError(
                f"{onnx_path}: {kind} '{name}' has {size} features, but {card_path.name} field "
                f"'{section}.size' says {card_size}"
            )
        if name != onnx_card.get(kind, {}).get("name", expected_name):
            raise PolicyContractError(
                f"{onnx_path}: {kind} is named '{name}', but {card_path.name} field "
                f"'onnx.{kind}.name' says {onnx_card.get(kind, {}).get('name')!r}"
            )
    return policy
