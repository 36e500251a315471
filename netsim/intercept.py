"""Interception of the product-sum ops that are function calls: F.linear, F.conv*, matmul / @ / bmm /
einsum, scaled_dot_product_attention and multi-head attention (nn.MultiheadAttention calls
``F.multi_head_attention_forward``); nn.Conv1d/Conv3d/ConvTranspose1d/2d reach us through their
``F.conv*`` call and are named after the module.

Mechanism: a ``torch.overrides.TorchFunctionMode`` is active while the model runs (forward pre-hooks on
every module enter it at the outermost call and record the module path, forward hooks with
``always_call`` leave it). The mode sees every torch function call at run time, whatever Python the
model runs (data-dependent control flow, dynamic shapes), which ``torch.fx`` tracing cannot promise.
Ops are named ``<module path>.<op>`` (``blocks.0.attn.qk``); a second call of the same op in one
module's forward gets ``_1``, ``_2``.

Products netsim cannot approximate are still seen (``lstm``, ``addmm``, ``baddbmm``, ``bilinear``,
``conv_transpose3d``...): they run exactly as torch computes them and are recorded "left exact" with
the reason; with ``strict`` they are an error.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from . import products, quant
from .config import OP_KINDS as KINDS
from .errors import NetsimError

# torch functions holding products that netsim leaves exact, with the reason
LEFT_EXACT = {
    **{name: "recurrent layer: torch's fused RNN kernel is not split into products; netsim leaves it exact"
       for name in ("lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell")},
    **{name: f"torch.{name} (a product plus a scaled addend) is not simulated; write it as a matmul and an add"
       for name in ("addmm", "baddbmm", "addbmm", "addmv", "addr")},
    **{name: f"torch.{name} is not simulated; write it as a matmul" for name in
       ("mv", "dot", "vdot", "inner", "tensordot", "chain_matmul", "multi_dot", "bilinear")},
    "conv_transpose3d": "conv_transpose3d is not simulated (ConvTranspose1d/2d are)",
}


@dataclass
class OpRecord:
    """One product-sum op of a model: where it is, what it is, and whether netsim simulates it."""

    name: str
    kind: str
    function: str  # the torch function called
    types: frozenset  # what a config ``match`` can name besides the op name: the kind, module classes
    macs: int | None = None  # per sample (per index of the model input's first dimension)
    reason: str | None = None  # why it is left exact; None: intercepted


# the signatures of torch's builtins (inspect cannot read them), for binding their arguments by name
def _linear_signature(input, weight, bias=None): ...
def _conv_signature(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1): ...
def _conv_transpose_signature(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                              dilation=1): ...
def _sdpa_signature(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                    enable_gqa=False): ...


_SIGNATURES = {}


def _signature(function) -> inspect.Signature:
    """inspect.signature, read once per function (it costs tens of microseconds per call)."""
    if function not in _SIGNATURES:
        _SIGNATURES[function] = inspect.signature(function)
    return _SIGNATURES[function]


def _bind(func, signature_of, args, kwargs) -> dict:
    bound = _signature(signature_of).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


class _Enter:
    """Forward pre-hook of every module of an intercepted model: scope name, and the mode at the top."""

    def __init__(self, state, name: str):
        self.state, self.name = state, name

    def __call__(self, module, args):
        self.state.enter(self.name, module, args)


class _Exit:
    def __init__(self, state):
        self.state = state

    def __call__(self, module, args, output):
        self.state.leave()


class _Mode(TorchFunctionMode):
    def __init__(self, state):
        super().__init__()
        self.state = state

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", None)
        state = self.state
        if state.opaque_depth or name not in _HANDLED:
            return func(*args, **kwargs)
        if name in LEFT_EXACT:
            return state.left_exact(func, args, kwargs, LEFT_EXACT[name])
        return _HANDLERS[name](state, func, args, kwargs)


class Interception:
    """The interception state of one model.

    ``role`` "observe" (calibration: float results, activation ranges and MACs recorded) or "simulate"
    (the approximate model: each op computes with its resolved settings). ``resolve(name, types)``
    gives an op's :class:`LayerSettings`; ``ranges`` the calibrated input range of an op's activation
    operand (weight x activation ops only: products of two activations are quantized on the fly).
    """

    def __init__(self, role: str, resolve=None, ranges=None, strict: bool = False, opaque=()):
        self.role = role
        self.resolve = resolve
        self.ranges = dict(ranges or {})
        self.strict = strict
        self.opaque = frozenset(opaque)  # module names whose insides are not ours to intercept
        self.records = {}
        self.observers = {}
        self.settings = {}
        self.check_entries = None  # after the first forward: fn(records) that checks the config matched
        self._reset()

    def _reset(self):
        self.stack = []
        self.opaque_depth = 0
        self._mode = None
        self._suspended = None
        self._counts = {}
        self._this_forward = set()
        self._batch = 1
        self._arith = {}
        self._weights = {}

    def __getstate__(self):  # deepcopy / pickle: no live mode, no operator caches
        state = dict(self.__dict__)
        for key in ("stack", "_mode", "_suspended", "_counts", "_this_forward", "_arith", "_weights"):
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._reset()

    # ---- installing
    def install(self, model: nn.Module) -> "Interception":
        remove(model)
        exit_hook = _Exit(self)
        for name, module in model.named_modules():
            if isinstance(module, torch.jit.ScriptModule):
                continue  # takes no hooks; listed as left exact by the module scan
            module.register_forward_pre_hook(_Enter(self, name))
            module.register_forward_hook(exit_hook, always_call=True)
        model.netsim_interception = self
        return self

    def enter(self, name: str, module: nn.Module, args) -> None:
        if not self.stack:
            first = next((a for a in args if isinstance(a, torch.Tensor)), None)
            self._batch = int(first.shape[0]) if first is not None and first.dim() >= 1 else 1
            self._counts = {}
            self._this_forward = set()
            self._mode = _Mode(self)
            self._mode.__enter__()
        opaque = name in self.opaque
        self.stack.append((name, module, opaque))
        self.opaque_depth += opaque
        if opaque and self.opaque_depth == 1:
            self._suspend_mode()

    def leave(self) -> None:
        if not self.stack:
            return
        _, _, opaque = self.stack.pop()
        self.opaque_depth -= opaque
        if opaque and self.opaque_depth == 0:
            self._resume_mode()
        if not self.stack and self._mode is not None:
            mode, self._mode = self._mode, None
            mode.__exit__(None, None, None)
            if self.check_entries is not None:
                check, self.check_entries = self.check_entries, None
                check(self.records)

    def _suspend_mode(self) -> None:
        """Inside an opaque module (a converted ApproxLinear / ApproxConv2d) nothing is intercepted, so
        the mode is taken off torch's stack while it runs: its own tensor calls and properties (a few
        dozen per layer) then skip the Python ``__torch_function__`` round trip. Only when our mode is
        on top of the stack (another mode above it stays as it is, and so does ours)."""
        self._suspended = None
        if self._mode is not None and _top_mode() is self._mode:
            self._suspended = torch._C._pop_torch_function_stack()

    def _resume_mode(self) -> None:
        suspended, self._suspended = self._suspended, None
        if suspended is not None:
            torch._C._push_on_torch_function_stack(suspended)

    # ---- naming
    def _module(self):
        return self.stack[-1][:2] if self.stack else ("", None)

    def name_for(self, base: str, kind: str, weight=None):
        """(name, types) of the op now called: the module's own name when it is the module's own
        product (an nn.Conv1d calling conv1d with its weight), else ``<module path>.<base>[_n]``."""
        path, module = self._module()
        if weight is not None and module is not None and getattr(module, "weight", None) is weight and path:
            return path, frozenset({kind, *(c.__name__ for c in type(module).__mro__)})
        key = (path, base)
        count = self._counts.get(key, 0)
        self._counts[key] = count + 1
        name = f"{path}.{base}" if path else base
        return (name if count == 0 else f"{name}_{count}"), frozenset({kind, base})

    def _record(self, name, kind, function, types, macs, reason=None) -> OpRecord:
        record = self.records.get(name)
        if record is None or record.kind != kind:
            record = self.records[name] = OpRecord(name, kind, function, types, None, reason)
        per_sample = None if macs is None else macs // max(self._batch, 1)
        if name not in self._this_forward:
            self._this_forward.add(name)
            record.macs = per_sample
        elif per_sample is not None and record.macs is not None:
            record.macs += per_sample
        return record

    # ---- running
    def left_exact(self, func, args, kwargs, reason: str, name=None, macs=None):
        function = getattr(func, "__name__", str(func))
        if name is None:
            path, module = self._module()
            if isinstance(module, (nn.RNNBase, nn.RNNCellBase)) and path:
                name, macs = path, _rnn_macs(module, args)
            else:
                name, _ = self.name_for(function, "other")
                macs = _unsupported_macs(function, args)
        self._record(name, function, function, frozenset({function}), macs, reason)
        if self.strict:
            raise NetsimError(f"strict: {name} ({function}) is left exact: {reason}")
        return func(*args, **kwargs)

    def settings_for(self, name: str, types):
        if name not in self.settings:
            self.settings[name] = self.resolve(name, types)
        return self.settings[name]

    def arithmetic(self, name: str, settings) -> products.Arithmetic:
        if name not in self._arith:
            self._arith[name] = products.Arithmetic(settings, name)
        return self._arith[name]

    def observe(self, name: str, x: torch.Tensor) -> None:
        if name not in self.observers:
            self.observers[name] = quant.RangeObserver(seed=len(self.observers) + 1000, name=name)
        self.observers[name].observe(x)

    def weight(self, key: str, w: torch.Tensor, settings, transform=None):
        """Quantized weight operand, cached while the tensor is unchanged (``load_state_dict`` and
        optimizer steps change its version, and it is quantized again)."""
        stamp = (id(w), w._version, w.device, settings)
        cached = self._weights.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        value = products.quantize_weight(transform(w) if transform else w, settings)
        self._weights[key] = (stamp, value)
        return value

    def activation(self, name: str, x: torch.Tensor, settings):
        """(integers, scale) of an activation operand: the calibrated range, else this tensor's own."""
        value = self.ranges.get(name)
        if value is not None:
            scale = quant.scale_from_range(torch.tensor(value), settings.a_bits, settings.scale)
        else:
            scale = products.dynamic_scale(x, settings.a_bits, settings.scale)
        return quant.quantize(x.detach(), scale, settings.a_bits), scale


def _top_mode():
    """The torch function mode on top of torch's stack, or None."""
    depth = torch._C._len_torch_function_stack()
    return torch._C._get_function_stack_at(depth - 1) if depth else None


def _needs_grad(*tensors) -> bool:
    return torch.is_grad_enabled() and any(isinstance(t, torch.Tensor) and t.requires_grad for t in tensors)


def _straight_through(y: torch.Tensor, reference) -> torch.Tensor:
    """The approximate value with the gradient of the float op (straight-through estimator)."""
    ref = reference()
    return ref + (y - ref).detach()


# ---- weight x activation: linear and convolutions

def _weight_op(state, func, name, kind, types, macs, x, w, b, compute, weight_transform=None):
    function = func.__name__
    state._record(name, kind, function, types, macs)
    if state.role == "observe":
        state.observe(name, x)
        return None
    settings = state.settings_for(name, types)
    if not settings.quantize:
        return None
    arith = state.arithmetic(name, settings)
    xq, x_scale = state.activation(name, x, settings)
    wq, w_scale = state.weight(name, w, settings, weight_transform)
    acc = compute(xq, wq.to(xq.device), arith)
    return acc, x_scale * w_scale.to(x_scale.device)


def _linear(state, func, args, kwargs):
    p = _bind(func, _linear_signature, args, kwargs)
    x, w, b = p["input"], p["weight"], p["bias"]
    name, types = state.name_for("linear", "linear", w)
    macs = x.numel() // max(x.shape[-1], 1) * w.numel() if x.dim() else None
    result = _weight_op(state, func, name, "linear", types, macs, x, w, b,
                        lambda xq, wq, arith: products.matmul(xq.reshape(-1, xq.shape[-1]), wq.t(), arith))
    if result is None:
        return func(*args, **kwargs)
    acc, scale = result
    y = products.dequantize(acc, scale, x.dtype, channel_dim=1).reshape(*x.shape[:-1], w.shape[0])
    if b is not None:
        y = y + b.detach()
    return _straight_through(y, lambda: func(*args, **kwargs)) if _needs_grad(x, w, b) else y


def _tuple(value, n):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


def _same_pads(kernel, dilation):
    pads = []
    for k, d in reversed(list(zip(kernel, dilation))):
        total = d * (k - 1)
        pads += [total // 2, total - total // 2]
    return pads


def _conv(state, func, args, kwargs):
    dims = int(func.__name__[-2])
    kind = func.__name__
    p = _bind(func, _conv_signature, args, kwargs)
    x, w, b = p["input"], p["weight"], p["bias"]
    stride, dilation, groups = _tuple(p["stride"], dims), _tuple(p["dilation"], dims), p["groups"]
    kernel = tuple(w.shape[2:])
    if isinstance(p["padding"], str):
        pads = [0] * (2 * dims) if p["padding"] == "valid" else _same_pads(kernel, dilation)
    else:
        pads = [q for v in reversed(_tuple(p["padding"], dims)) for q in (v, v)]
    name, types = state.name_for(kind, kind, w)
    unbatched = x.dim() == dims + 1
    xb = x.unsqueeze(0) if unbatched else x
    out_spatial = [(size + pads[2 * (dims - 1 - i)] + pads[2 * (dims - 1 - i) + 1] - d * (k - 1) - 1) // s + 1
                   for i, (size, k, s, d) in enumerate(zip(xb.shape[2:], kernel, stride, dilation))]
    macs = xb.shape[0] * w.shape[0] * math.prod(out_spatial) * w[0].numel()

    def compute(xq, wq, arith):
        if dims == 3:
            return products.conv3d(xq, wq, arith, stride, pads, dilation, groups)
        if dims == 1:
            return products.conv2d(xq.unsqueeze(2), wq.unsqueeze(2), arith, (1, stride[0]), pads, (1, dilation[0]),
                                   groups).squeeze(2)
        return products.conv2d(xq, wq, arith, stride, pads, dilation, groups)

    result = _weight_op(state, func, name, kind, types, macs, xb, w, b, compute)
    if result is None:
        return func(*args, **kwargs)
    return _convolution_output(result, x, w, b, dims, unbatched, lambda: func(*args, **kwargs))


def _convolution_output(result, x, w, b, dims: int, unbatched: bool, reference):
    """A convolution's float output from its accumulators: dequantized per output channel, plus the
    bias, without the batch dim the input did not have; the float op's gradient."""
    acc, scale = result
    y = products.dequantize(acc, scale, x.dtype, channel_dim=1)
    if b is not None:
        y = y + b.detach().reshape((1, -1) + (1,) * dims)
    y = y.squeeze(0) if unbatched else y
    return _straight_through(y, reference) if _needs_grad(x, w, b) else y


def _conv_transpose(state, func, args, kwargs):
    kind = func.__name__
    dims = int(kind[-2])
    p = _bind(func, _conv_transpose_signature, args, kwargs)
    x, w, b = p["input"], p["weight"], p["bias"]
    stride, padding = _tuple(p["stride"], dims), _tuple(p["padding"], dims)
    output_padding, dilation = _tuple(p["output_padding"], dims), _tuple(p["dilation"], dims)
    groups = p["groups"]
    kernel = tuple(w.shape[2:])
    name, types = state.name_for(kind, kind, w)
    unbatched = x.dim() == dims + 1
    xb = x.unsqueeze(0) if unbatched else x
    macs = xb.numel() * w.shape[1] * math.prod(kernel)  # the useful MACs: every input times every tap

    def compute(xq, wq, arith):
        xz, pads = products.upsampled(xq, stride, kernel, padding, output_padding, dilation)
        if dims == 1:
            return products.conv2d(xz.unsqueeze(2), wq.unsqueeze(2), arith, (1, 1), pads, (1, dilation[0]),
                                   groups).squeeze(2)
        return products.conv2d(xz, wq, arith, (1, 1), pads, dilation, groups)

    result = _weight_op(state, func, name, kind, types, macs, xb, w, b, compute,
                        weight_transform=lambda t: products.transposed_weight(t, groups))
    if result is None:
        return func(*args, **kwargs)
    return _convolution_output(result, x, w, b, dims, unbatched, lambda: func(*args, **kwargs))


# ---- activation x activation: matmul, bmm, einsum, attention

def product(state, name: str, types, a: torch.Tensor, b: torch.Tensor, kind: str = "matmul"):
    """``a @ b`` (batched, broadcast) of two activations, both quantized on the fly: the left operand
    with a_bits, the right one with w_bits; ``recode = "weight"`` Booth-recodes the right one."""
    batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    macs = math.prod(batch) * a.shape[-2] * a.shape[-1] * b.shape[-1]
    state._record(name, kind, "matmul", types, macs)
    if state.role == "observe":
        return torch.matmul(a, b)
    settings = state.settings_for(name, types)
    if not settings.quantize:
        return torch.matmul(a, b)
    arith = state.arithmetic(name, settings)
    y = products.activation_product(a, b, arith, settings.a_bits, settings.w_bits, settings.scale)
    return _straight_through(y, lambda: torch.matmul(a, b)) if _needs_grad(a, b) else y


def _matmul(state, func, args, kwargs):
    name_of = func.__name__
    if name_of == "__rmatmul__":
        b, a = args[0], args[1]
    else:
        a, b = (args + tuple(kwargs.values()))[:2]
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.dim() == 0 or b.dim() == 0 \
            or not (a.is_floating_point() and b.is_floating_point()):
        return func(*args, **kwargs)
    if kwargs.get("out") is not None:
        return state.left_exact(func, args, kwargs, f"{name_of} with out= is not simulated")
    if a.dim() == 1 and b.dim() == 1:
        return state.left_exact(func, args, kwargs, "a dot product of two vectors is not simulated")
    base = "matmul" if name_of in ("__matmul__", "__rmatmul__") else name_of
    name, types = state.name_for(base, "matmul")
    squeeze = []
    if a.dim() == 1:
        a, squeeze = a.unsqueeze(0), [-2]
    if b.dim() == 1:
        b, squeeze = b.unsqueeze(-1), squeeze + [-1]
    y = product(state, name, types, a, b)
    for dim in sorted(squeeze):
        y = y.squeeze(dim)
    return y


def _einsum(state, func, args, kwargs):
    equation, operands = args[0], args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    plan = _einsum_plan(equation, operands)
    if isinstance(plan, str):
        if len(operands) >= 2 and all(isinstance(t, torch.Tensor) and t.is_floating_point() for t in operands):
            return state.left_exact(func, args, kwargs, plan)
        return func(*args, **kwargs)
    a_perm, b_perm, shapes, out_labels, result_perm = plan
    a, b = operands
    a3 = a.permute(a_perm).reshape(shapes[0])
    b3 = b.permute(b_perm).reshape(shapes[1])
    name, types = state.name_for("einsum", "matmul")
    y = product(state, name, types, a3, b3)
    return y.reshape(shapes[2]).permute(result_perm)


def _einsum_plan(equation: str, operands):
    """An einsum of two operands as a batched matmul: permutations and shapes, or the reason it is not."""
    if len(operands) != 2 or "..." in equation or "->" not in equation:
        return "einsum is simulated for two operands with explicit output ('ij,jk->ik'), no '...'"
    inputs, out = equation.replace(" ", "").split("->")
    terms = inputs.split(",")
    a, b = operands
    if len(terms) != 2 or len(terms[0]) != a.dim() or len(terms[1]) != b.dim() or \
            any(len(set(t)) != len(t) for t in (*terms, out)):
        return "einsum with repeated or mismatched subscripts is not simulated"
    ta, tb = terms
    batch = [c for c in out if c in ta and c in tb]
    free_a = [c for c in out if c in ta and c not in tb]
    free_b = [c for c in out if c in tb and c not in ta]
    contracted = [c for c in ta if c in tb and c not in out]
    if set(ta) - set(batch + free_a + contracted) or set(tb) - set(batch + free_b + contracted):
        return "einsum summing over a subscript of one operand only is not simulated"
    size = {c: a.shape[ta.index(c)] for c in ta}
    size.update({c: b.shape[tb.index(c)] for c in tb})
    prod = lambda labels: math.prod(size[c] for c in labels)  # noqa: E731
    a_perm = [ta.index(c) for c in batch + free_a + contracted]
    b_perm = [tb.index(c) for c in batch + contracted + free_b]
    shapes = ((prod(batch), prod(free_a), prod(contracted)), (prod(batch), prod(contracted), prod(free_b)),
              [size[c] for c in batch + free_a + free_b])
    order = batch + free_a + free_b
    return a_perm, b_perm, shapes, out, [order.index(c) for c in out]


def attention(state, base_names, q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
              enable_gqa=False, need_weights=False):
    """Scaled dot-product attention as its two products ``qk`` and ``av`` (softmax in float between);
    q [..., L, E], k [..., S, E], v [..., S, Ev]. Masks as ``F.scaled_dot_product_attention``."""
    qk_name, qk_types = base_names[0]
    av_name, av_types = base_names[1]
    if enable_gqa and q.dim() >= 3 and k.shape[-3] != q.shape[-3]:
        k = k.repeat_interleave(q.shape[-3] // k.shape[-3], dim=-3)
        v = v.repeat_interleave(q.shape[-3] // v.shape[-3], dim=-3)
    factor = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = product(state, qk_name, qk_types, q, k.transpose(-2, -1), "attention") * factor
    L, S = q.shape[-2], k.shape[-2]
    if is_causal:
        causal = torch.ones(L, S, dtype=torch.bool, device=q.device).tril()
        scores = scores.masked_fill(~causal, float("-inf"))
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else scores + attn_mask
    weights = torch.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    out = product(state, av_name, av_types, weights, v, "attention")
    return (out, weights) if need_weights else out


def _sdpa(state, func, args, kwargs):
    p = _bind(func, _sdpa_signature, args, kwargs) if _sdpa_binds(args, kwargs) else None
    if p is None:
        return state.left_exact(func, args, kwargs, "scaled_dot_product_attention with arguments netsim does not know")
    names = (state.name_for("qk", "attention"), state.name_for("av", "attention"))
    if state.role == "observe":
        attention(state, names, p["query"], p["key"], p["value"], p["attn_mask"], 0.0, p["is_causal"],
                  p["scale"], p.get("enable_gqa", False))  # records the two products and their MACs
        return func(*args, **kwargs)
    return attention(state, names, p["query"], p["key"], p["value"], p["attn_mask"], p["dropout_p"],
                     p["is_causal"], p["scale"], p.get("enable_gqa", False))


def _sdpa_binds(args, kwargs) -> bool:
    try:
        _signature(_sdpa_signature).bind(*args, **kwargs)
        return True
    except TypeError:
        return False


def _multi_head_attention(state, func, args, kwargs):
    p = _bind(func, F.multi_head_attention_forward, args, kwargs)
    unsupported = [key for key in ("bias_k", "bias_v", "static_k", "static_v") if p[key] is not None]
    if p["add_zero_attn"]:
        unsupported.append("add_zero_attn")
    if unsupported:
        return state.left_exact(func, args, kwargs, f"multi-head attention with {', '.join(unsupported)} is not "
                                                    f"simulated")
    query, key, value = p["query"], p["key"], p["value"]
    batched = query.dim() == 3
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
    L, N, E = query.shape
    S = key.shape[0]
    heads = p["num_heads"]
    head_dim = E // heads
    if p["use_separate_proj_weight"]:
        weights = (p["q_proj_weight"], p["k_proj_weight"], p["v_proj_weight"])
        keys = ("q", "k", "v")
    else:
        weights = tuple(p["in_proj_weight"].chunk(3))
        keys = ("in",) * 3
    biases = p["in_proj_bias"].chunk(3) if p["in_proj_bias"] is not None else (None,) * 3
    in_name, in_types = state.name_for("in_proj", "linear")
    qk_names = state.name_for("qk", "attention")
    av_names = state.name_for("av", "attention")
    out_name, out_types = state.name_for("out_proj", "linear")
    in_weight = p["in_proj_weight"]
    inputs = (query, key, value)
    projected = []
    for index in range(3):
        projected.append(_mha_linear(state, in_name, in_types, inputs[index], weights[index], biases[index],
                                     in_weight if keys[index] == "in" else weights[index], index,
                                     macs=sum(t.numel() // E for t in inputs) * E * E if index == 0 else 0))
    q, k, v = projected
    q = q.reshape(L, N * heads, head_dim).transpose(0, 1).reshape(N, heads, L, head_dim)
    k = k.reshape(S, N * heads, head_dim).transpose(0, 1).reshape(N, heads, S, head_dim)
    v = v.reshape(S, N * heads, head_dim).transpose(0, 1).reshape(N, heads, S, head_dim)
    mask = _mha_mask(p, N, heads, L, S, q.dtype, batched)
    training = p["training"]
    out, attn = attention(state, (qk_names, av_names), q, k, v, mask, p["dropout_p"] if training else 0.0,
                          p["is_causal"] and p["attn_mask"] is None, None, need_weights=True)
    out = out.permute(2, 0, 1, 3).reshape(L * N, E)
    out = _mha_linear(state, out_name, out_types, out, p["out_proj_weight"], p["out_proj_bias"],
                      p["out_proj_weight"], None, macs=L * N * E * E).reshape(L, N, E)
    if not p["need_weights"]:
        attn = None
    elif p["average_attn_weights"]:
        attn = attn.mean(dim=1)
    if not batched:
        out = out.squeeze(1)
        attn = attn.squeeze(0) if attn is not None else None
    return out, attn


def _mha_mask(p, n, heads, L, S, dtype, batched):
    mask = None
    attn_mask = p["attn_mask"]
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:  # True: not allowed to attend (the opposite of SDPA's bool masks)
            attn_mask = torch.zeros_like(attn_mask, dtype=dtype).masked_fill(attn_mask, float("-inf"))
        mask = attn_mask.reshape(n, heads, L, S) if attn_mask.dim() == 3 else attn_mask.to(dtype)
    padding = p["key_padding_mask"]
    if padding is not None:
        if not batched:
            padding = padding.unsqueeze(0)
        if padding.dtype == torch.bool:
            padding = torch.zeros_like(padding, dtype=dtype).masked_fill(padding, float("-inf"))
        padding = padding.to(dtype).reshape(n, 1, 1, S)
        mask = padding if mask is None else mask + padding
    return mask


def _mha_linear(state, name, types, x, w, b, whole, part, macs):
    """One in- or out-projection of multi-head attention: the weight is quantized as ``whole`` (the packed
    in_proj_weight, so q, k and v share its scale) and ``part`` selects its third."""
    state._record(name, "linear", "linear", types, macs)
    if state.role == "observe":
        state.observe(name, x)
        return F.linear(x, w, b)
    settings = state.settings_for(name, types)
    if not settings.quantize:
        return F.linear(x, w, b)
    arith = state.arithmetic(name, settings)
    xq, x_scale = state.activation(name, x, settings)
    wq, w_scale = state.weight(f"{name}:{id(whole)}", whole, settings)
    if part is not None and whole is not w:
        rows = w.shape[0]
        wq = wq[part * rows:(part + 1) * rows]
        w_scale = w_scale[part * rows:(part + 1) * rows] if w_scale.dim() else w_scale
    acc = products.matmul(xq.reshape(-1, xq.shape[-1]), wq.to(xq.device).t(), arith)
    y = products.dequantize(acc, x_scale * w_scale.to(x_scale.device), x.dtype, channel_dim=1)
    y = y.reshape(*x.shape[:-1], w.shape[0])
    if b is not None:
        y = y + b.detach()
    return _straight_through(y, lambda: F.linear(x, w, b)) if _needs_grad(x, w, b) else y


def _unsupported_macs(function: str, args):
    """MACs of the products netsim leaves exact, where their shapes say it; else None."""
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    try:
        if function in ("addmm", "addbmm", "baddbmm") and len(tensors) >= 3:
            a, b = tensors[1], tensors[2]
            return a.numel() * b.shape[-1]
        if function in ("mm", "mv", "addmv", "dot", "vdot", "inner"):
            a = tensors[-2]
            return a.numel() if function != "inner" else a.numel()
        if function == "bilinear" and len(tensors) >= 3:
            return tensors[0].numel() // tensors[0].shape[-1] * tensors[2].numel()
    except (IndexError, RuntimeError):
        return None
    return None


def _rnn_macs(module, args):
    """MACs of one call of a recurrent layer: gates x hidden x (input + hidden) per step, layer, direction."""
    x = next((a for a in args if isinstance(a, torch.Tensor)), None)
    if x is None or not isinstance(module, nn.RNNBase):
        return None
    gates = {"LSTM": 4, "GRU": 3}.get(module.mode, 1)
    hidden, out = module.hidden_size, module.proj_size or module.hidden_size
    directions = 2 if module.bidirectional else 1
    steps_times_batch = x.numel() // x.shape[-1]
    per_step = 0
    for layer in range(module.num_layers):
        width = module.input_size if layer == 0 else out * directions
        per_step += directions * (gates * hidden * (width + out) + (hidden * out if module.proj_size else 0))
    return steps_times_batch * per_step


_HANDLERS = {
    "linear": _linear,
    **{f"conv{d}d": _conv for d in (1, 2, 3)},
    **{f"conv_transpose{d}d": _conv_transpose for d in (1, 2)},
    **{name: _matmul for name in ("matmul", "__matmul__", "__rmatmul__", "mm", "bmm")},
    "einsum": _einsum,
    "scaled_dot_product_attention": _sdpa,
    "multi_head_attention_forward": _multi_head_attention,
}
_HANDLED = frozenset(_HANDLERS) | frozenset(LEFT_EXACT)


def remove(model: nn.Module) -> None:
    """Take an interception's hooks off ``model`` (a copy of an intercepted model carries them)."""
    for module in model.modules():
        if isinstance(module, torch.jit.ScriptModule):
            continue
        for hooks in (module._forward_pre_hooks, module._forward_hooks):
            for key in [k for k, hook in hooks.items() if isinstance(hook, (_Enter, _Exit))]:
                del hooks[key]
                getattr(module, "_forward_hooks_always_called", {}).pop(key, None)
    if "netsim_interception" in model.__dict__:
        del model.__dict__["netsim_interception"]


def of(model: nn.Module):
    """The interception installed on ``model`` by :func:`netsim.convert`, or None."""
    return model.__dict__.get("netsim_interception")


__all__ = ["Interception", "KINDS", "LEFT_EXACT", "OpRecord", "attention", "of", "product", "remove"]
