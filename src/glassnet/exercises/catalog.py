"""The exercises: for each, the functions a learner writes, with their signatures and docstrings.

Signatures are those of :mod:`glassnet.functional` (a prefix of them where the library has grown
extra options, e.g. ``conv_forward`` without ``dilation`` and ``groups``). ``sgd_momentum`` and
``adam`` are one update step in the functional style of the texts (state carried in ``config``);
their reference is :mod:`glassnet.optim`. Each docstring gives the formula and the shapes, in
English and then in Chinese; the template a learner starts from is generated from them.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError


@dataclass(frozen=True)
class Function:
    """One function to write: ``def NAME(PARAMS):`` returning ``returns``, documented in en and zh."""

    name: str
    params: str
    returns: str
    doc_en: str
    doc_zh: str


@dataclass(frozen=True)
class Exercise:
    name: str
    summary_en: str
    summary_zh: str
    functions: tuple

    def function(self, name) -> Function:
        return next(f for f in self.functions if f.name == name)


def _pair(name, params, fwd_en, fwd_zh, grads, bwd_en, bwd_zh, cache="cache"):
    """The forward/backward pair of a layer, cs231n style."""
    return (
        Function(f"{name}_forward", params, f"out, {cache}", fwd_en, fwd_zh),
        Function(f"{name}_backward", "dout, cache", grads, bwd_en, bwd_zh),
    )


_LAYER_RULE_EN = ("Return the gradients as new arrays of the input's dtype; never write into "
                  "dout or into an input.")
_LAYER_RULE_ZH = "以与输入相同的 dtype 返回新的梯度数组；不要改写 dout 或任何输入。"

EXERCISES = {}


def _add(name, summary_en, summary_zh, *functions):
    EXERCISES[name] = Exercise(name, summary_en, summary_zh, tuple(functions))


_add(
    "affine", "fully connected layer: out = x @ w + b", "全连接层：out = x @ w + b",
    *_pair(
        "affine", "x, w, b",
        "Affine map of flattened inputs: out[n, m] = sum_d x[n, d] * w[d, m] + b[m].\n\n"
        "x: (N, d_1, ..., d_k), flattened to (N, D) with D = d_1 * ... * d_k; w: (D, M); b: (M,).\n"
        "Returns out (N, M) and a cache for the backward pass.",
        "对展平后的输入做仿射变换：out[n, m] = sum_d x[n, d] * w[d, m] + b[m]。\n\n"
        "x 的形状为 (N, d_1, ..., d_k)，展平成 (N, D)，D = d_1 * ... * d_k；w 为 (D, M)；b 为 (M,)。\n"
        "返回 out (N, M) 和供反向传播使用的缓存 cache。",
        "dx, dw, db",
        "Gradients of the affine map, dout: (N, M).\n\n"
        "dx = dout @ w.T reshaped to x's shape (N, d_1, ..., d_k); dw = x2.T @ dout (D, M) with x2\n"
        "the flattened x; db = sum over the batch of dout (M,). " + _LAYER_RULE_EN,
        "仿射变换的梯度，dout 形状为 (N, M)。\n\n"
        "dx = dout @ w.T，再变回 x 的形状 (N, d_1, ..., d_k)；dw = x2.T @ dout (D, M)，x2 为展平的 x；\n"
        "db = dout 在批量维度上求和 (M,)。" + _LAYER_RULE_ZH,
    ),
)

_add(
    "relu", "ReLU activation: out = max(x, 0)", "ReLU 激活函数：out = max(x, 0)",
    *_pair(
        "relu", "x",
        "ReLU, element-wise: out = max(x, 0). x: any shape; out has x's shape and dtype.",
        "逐元素 ReLU：out = max(x, 0)。x 可为任意形状；out 的形状和 dtype 与 x 相同。",
        "dx",
        "dx = dout * [x > 0] (the derivative at x = 0 is taken as 0, as in PyTorch). " + _LAYER_RULE_EN,
        "dx = dout * [x > 0]（x = 0 处的导数取 0，与 PyTorch 一致）。" + _LAYER_RULE_ZH,
    ),
)

_add(
    "leaky_relu", "leaky ReLU: out = x if x > 0 else slope * x", "Leaky ReLU：x > 0 时 out = x，否则 out = slope * x",
    *_pair(
        "leaky_relu", "x, slope=0.01",
        "Leaky ReLU, element-wise: out = x where x > 0, slope * x elsewhere. out has x's shape and dtype.",
        "逐元素 Leaky ReLU：x > 0 处 out = x，其余位置 out = slope * x。out 的形状和 dtype 与 x 相同。",
        "dx",
        "dx = dout * (1 where x > 0, slope elsewhere). " + _LAYER_RULE_EN,
        "dx = dout * （x > 0 处为 1，其余为 slope）。" + _LAYER_RULE_ZH,
    ),
)

_add(
    "sigmoid", "logistic sigmoid, stable for large |x|", "sigmoid（logistic）函数，对很大的 |x| 也要数值稳定",
    *_pair(
        "sigmoid", "x",
        "Sigmoid, element-wise: out = 1 / (1 + exp(-x)). It must not overflow for any x: for x < 0\n"
        "use the equal form exp(x) / (1 + exp(x)). out has x's shape and dtype.",
        "逐元素 sigmoid：out = 1 / (1 + exp(-x))。对任何 x 都不能溢出：x < 0 时改用等价形式\n"
        "exp(x) / (1 + exp(x))。out 的形状和 dtype 与 x 相同。",
        "dx",
        "sigma'(x) = sigma(x) * (1 - sigma(x)), so dx = dout * out * (1 - out). " + _LAYER_RULE_EN,
        "sigma'(x) = sigma(x) * (1 - sigma(x))，因此 dx = dout * out * (1 - out)。" + _LAYER_RULE_ZH,
    ),
)

_add(
    "conv", "2-D convolution (cross-correlation) with stride and zero padding; loops allowed",
    "带步幅和零填充的二维卷积（互相关）；可以用循环",
    *_pair(
        "conv", "x, w, b, stride=1, pad=0",
        "Cross-correlation of a batch of images with F filters (the kernel is not flipped):\n"
        "out[n, f, i, j] = b[f] + sum_{c, a, b'} w[f, c, a, b'] * xp[n, c, i*stride + a, j*stride + b']\n"
        "where xp is x zero-padded by `pad` pixels on each side of H and W.\n\n"
        "x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); stride, pad: ints.\n"
        "out: (N, F, Ho, Wo) with Ho = (H + 2*pad - HH) // stride + 1, Wo = (W + 2*pad - WW) // stride + 1.\n"
        "Loops over the output positions are fine.",
        "一批图像与 F 个滤波器的互相关（卷积核不翻转）：\n"
        "out[n, f, i, j] = b[f] + sum_{c, a, b'} w[f, c, a, b'] * xp[n, c, i*stride + a, j*stride + b']\n"
        "其中 xp 是 x 在 H 和 W 两侧各补 `pad` 个零后的结果。\n\n"
        "x 为 (N, C, H, W)；w 为 (F, C, HH, WW)；b 为 (F,)；stride 和 pad 为整数。\n"
        "out 为 (N, F, Ho, Wo)，Ho = (H + 2*pad - HH) // stride + 1，Wo = (W + 2*pad - WW) // stride + 1。\n"
        "可以对输出位置写循环。",
        "dx, dw, db",
        "Gradients of the convolution, dout: (N, F, Ho, Wo).\n"
        "db[f] = sum_{n, i, j} dout[n, f, i, j];\n"
        "dw[f] = sum_{n, i, j} dout[n, f, i, j] * (the window of xp[n] under output (i, j));\n"
        "dxp[n, :, window (i, j)] += dout[n, f, i, j] * w[f] for every f, i, j - windows overlap when\n"
        "stride < HH, so contributions add up; dx is dxp with the padding cropped off: (N, C, H, W).\n"
        + _LAYER_RULE_EN,
        "卷积的梯度，dout 形状为 (N, F, Ho, Wo)。\n"
        "db[f] = sum_{n, i, j} dout[n, f, i, j]；\n"
        "dw[f] = sum_{n, i, j} dout[n, f, i, j] * （输出位置 (i, j) 对应的 xp[n] 窗口）；\n"
        "对每个 f、i、j：dxp[n, :, 窗口 (i, j)] += dout[n, f, i, j] * w[f]——stride < HH 时窗口互相重叠，\n"
        "贡献需要累加；dx 是去掉填充部分的 dxp：(N, C, H, W)。" + _LAYER_RULE_ZH,
    ),
)

_add(
    "max_pool", "max pooling (windows may overlap)", "最大池化（窗口可能重叠）",
    *_pair(
        "max_pool", "x, size=2, stride=2",
        "Max pooling: out[n, c, i, j] = max_{a, b < size} x[n, c, i*stride + a, j*stride + b].\n\n"
        "x: (N, C, H, W); out: (N, C, Ho, Wo) with Ho = (H - size) // stride + 1 (likewise Wo).\n"
        "Windows overlap when stride < size and need not cover the whole input.",
        "最大池化：out[n, c, i, j] = max_{a, b < size} x[n, c, i*stride + a, j*stride + b]。\n\n"
        "x 为 (N, C, H, W)；out 为 (N, C, Ho, Wo)，Ho = (H - size) // stride + 1（Wo 同理）。\n"
        "stride < size 时窗口互相重叠，窗口也不一定覆盖整个输入。",
        "dx",
        "Each window's dout goes to the position of its maximum, added (+=) to what other windows\n"
        "send there; on ties only the first maximum in row-major order gets it (as in PyTorch).\n"
        "dx: (N, C, H, W). " + _LAYER_RULE_EN,
        "每个窗口的 dout 只传给该窗口最大值所在的位置，并与其他窗口传到同一位置的梯度累加（+=）；\n"
        "有多个相同最大值时只传给按行优先顺序的第一个（与 PyTorch 一致）。dx 为 (N, C, H, W)。" + _LAYER_RULE_ZH,
    ),
)

_add(
    "avg_pool", "average pooling (windows may overlap)", "平均池化（窗口可能重叠）",
    *_pair(
        "avg_pool", "x, size=2, stride=2",
        "Average pooling: out[n, c, i, j] = (1 / size^2) * sum_{a, b < size} x[n, c, i*stride + a, j*stride + b].\n\n"
        "x: (N, C, H, W); out: (N, C, Ho, Wo) with Ho = (H - size) // stride + 1 (likewise Wo).",
        "平均池化：out[n, c, i, j] = (1 / size^2) * sum_{a, b < size} x[n, c, i*stride + a, j*stride + b]。\n\n"
        "x 为 (N, C, H, W)；out 为 (N, C, Ho, Wo)，Ho = (H - size) // stride + 1（Wo 同理）。",
        "dx",
        "Every pixel of window (i, j) receives dout[n, c, i, j] / size^2, summed (+=) over the windows\n"
        "that contain it. dx: (N, C, H, W). " + _LAYER_RULE_EN,
        "窗口 (i, j) 中的每个像素得到 dout[n, c, i, j] / size^2，并对包含它的所有窗口累加（+=）。\n"
        "dx 为 (N, C, H, W)。" + _LAYER_RULE_ZH,
    ),
)

_add(
    "global_avg_pool", "global average pooling: (N, C, H, W) -> (N, C)", "全局平均池化：(N, C, H, W) -> (N, C)",
    *_pair(
        "global_avg_pool", "x",
        "Global average pooling: out[n, c] = (1 / (H*W)) * sum_{i, j} x[n, c, i, j]. x: (N, C, H, W); out: (N, C).",
        "全局平均池化：out[n, c] = (1 / (H*W)) * sum_{i, j} x[n, c, i, j]。x 为 (N, C, H, W)；out 为 (N, C)。",
        "dx",
        "dx[n, c, i, j] = dout[n, c] / (H*W); dout: (N, C), dx: (N, C, H, W). " + _LAYER_RULE_EN,
        "dx[n, c, i, j] = dout[n, c] / (H*W)；dout 为 (N, C)，dx 为 (N, C, H, W)。" + _LAYER_RULE_ZH,
    ),
)

_add(
    "batchnorm", "batch normalisation, train and eval mode, (N, D) and (N, C, H, W)",
    "批量归一化：训练与评估模式，输入为 (N, D) 或 (N, C, H, W)",
    *_pair(
        "batchnorm", "x, gamma, beta, running, train, momentum=0.1, eps=1e-5",
        "Batch normalisation per feature: over N for x (N, D), per channel over N, H, W for x (N, C, H, W).\n"
        "train: mu, var = mean and biased variance of the batch (m values per feature), and in place\n"
        "    running['mean'] = (1 - momentum) * running['mean'] + momentum * mu\n"
        "    running['var']  = (1 - momentum) * running['var']  + momentum * var * m / (m - 1)\n"
        "    (unbiased variance in the running estimate; PyTorch's momentum convention).\n"
        "eval: mu, var = running['mean'], running['var'] (the running dict is not changed).\n"
        "out = gamma * (x - mu) / sqrt(var + eps) + beta, x's shape.\n\n"
        "gamma, beta, running['mean'], running['var']: (D,) or (C,); train: a bool.",
        "按特征做批量归一化：x 为 (N, D) 时在 N 上统计；x 为 (N, C, H, W) 时按通道在 N、H、W 上统计。\n"
        "训练模式：mu、var 为该批数据的均值和有偏方差（每个特征 m 个值），并原地更新\n"
        "    running['mean'] = (1 - momentum) * running['mean'] + momentum * mu\n"
        "    running['var']  = (1 - momentum) * running['var']  + momentum * var * m / (m - 1)\n"
        "    （滑动估计用无偏方差；momentum 的含义与 PyTorch 相同）。\n"
        "评估模式：mu、var 取 running['mean']、running['var']（不修改 running）。\n"
        "out = gamma * (x - mu) / sqrt(var + eps) + beta，形状与 x 相同。\n\n"
        "gamma、beta、running['mean']、running['var'] 为 (D,) 或 (C,)；train 为布尔值。",
        "dx, dgamma, dbeta",
        "Gradients of batch normalisation. With x_hat = (x - mu) / sqrt(var + eps), sums and means over\n"
        "the statistics axes, and dx_hat = dout * gamma:\n"
        "dbeta = sum dout; dgamma = sum dout * x_hat;\n"
        "train: dx = (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)) / sqrt(var + eps)\n"
        "       (mu and var depend on x: these are the two mean terms);\n"
        "eval:  dx = dx_hat / sqrt(var + eps).\n" + _LAYER_RULE_EN,
        "批量归一化的梯度。记 x_hat = (x - mu) / sqrt(var + eps)，求和与均值都在统计维度上进行，\n"
        "dx_hat = dout * gamma：\n"
        "dbeta = sum dout；dgamma = sum dout * x_hat；\n"
        "训练模式：dx = (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)) / sqrt(var + eps)\n"
        "          （mu 和 var 都依赖 x：这就是两个均值项）；\n"
        "评估模式：dx = dx_hat / sqrt(var + eps)。\n" + _LAYER_RULE_ZH,
    ),
)

_add(
    "dropout", "inverted dropout (p = drop probability)", "反向缩放的 Dropout（inverted dropout，p 为丢弃概率）",
    *_pair(
        "dropout", "x, p, train, rng",
        "Inverted dropout. train: keep each unit with probability 1 - p (draw the mask from rng, a\n"
        "numpy.random.Generator, e.g. keep = rng.random(x.shape) >= p) and scale the kept units:\n"
        "out = x * keep / (1 - p), so that E[out] = x. eval (train False): out = x.\n"
        "x: any shape; out has x's shape and dtype.",
        "反向缩放的 Dropout。训练模式：每个单元以 1 - p 的概率保留（用 rng 生成掩码，rng 是\n"
        "numpy.random.Generator，例如 keep = rng.random(x.shape) >= p），并放大保留的单元：\n"
        "out = x * keep / (1 - p)，使 E[out] = x。评估模式（train 为 False）：out = x。\n"
        "x 可为任意形状；out 的形状和 dtype 与 x 相同。",
        "dx",
        "dx = dout * keep / (1 - p) with the same mask as the forward pass; dx = dout in eval mode.\n"
        + _LAYER_RULE_EN,
        "dx = dout * keep / (1 - p)，使用与前向传播相同的掩码；评估模式下 dx = dout。\n" + _LAYER_RULE_ZH,
    ),
)

_LOSS_RULE_EN = "Return loss as a scalar and dscores as a new array of the input's dtype; do not modify the inputs."
_LOSS_RULE_ZH = "loss 返回标量，dscores 返回与输入 dtype 相同的新数组；不要修改输入。"

_add(
    "softmax_loss", "softmax cross-entropy from logits, stable for large scores",
    "基于 logits 的 softmax 交叉熵，对很大的分数也要数值稳定",
    Function(
        "softmax_loss", "scores, y", "loss, dscores",
        "Softmax cross-entropy averaged over the batch, from logits.\n"
        "log p[n, k] = s[n, k] - max_j s[n, j] - log sum_j exp(s[n, j] - max_j s[n, j])  (never overflows)\n"
        "loss = -(1/N) sum_n log p[n, y[n]];   dscores[n, k] = (p[n, k] - [k == y[n]]) / N.\n\n"
        "scores: (N, C); y: (N,) integer labels in [0, C). " + _LOSS_RULE_EN,
        "基于 logits 的 softmax 交叉熵，在批量上取平均。\n"
        "log p[n, k] = s[n, k] - max_j s[n, j] - log sum_j exp(s[n, j] - max_j s[n, j])（不会溢出）\n"
        "loss = -(1/N) sum_n log p[n, y[n]]；dscores[n, k] = (p[n, k] - [k == y[n]]) / N。\n\n"
        "scores 为 (N, C)；y 为 (N,) 的整数标签，取值在 [0, C) 内。" + _LOSS_RULE_ZH,
    ),
)

_add(
    "svm_loss", "multiclass SVM (hinge) loss", "多类 SVM（合页）损失",
    Function(
        "svm_loss", "scores, y, delta=1.0", "loss, dscores",
        "Multiclass hinge loss, summed over the wrong classes and averaged over the batch:\n"
        "margin[n, j] = max(0, s[n, j] - s[n, y[n]] + delta) for j != y[n] (the true class counts 0);\n"
        "loss = (1/N) sum_{n, j} margin[n, j];\n"
        "dscores[n, j] = [margin[n, j] > 0] / N for j != y[n]; dscores[n, y[n]] = -(number of j with margin > 0) / N.\n\n"
        "scores: (N, C); y: (N,) integer labels. " + _LOSS_RULE_EN,
        "多类合页损失：对错误类别求和，在批量上取平均：\n"
        "j != y[n] 时 margin[n, j] = max(0, s[n, j] - s[n, y[n]] + delta)（正确类别计为 0）；\n"
        "loss = (1/N) sum_{n, j} margin[n, j]；\n"
        "j != y[n] 时 dscores[n, j] = [margin[n, j] > 0] / N；dscores[n, y[n]] = -（margin > 0 的 j 的个数）/ N。\n\n"
        "scores 为 (N, C)；y 为 (N,) 的整数标签。" + _LOSS_RULE_ZH,
    ),
)

_add(
    "bce_loss", "binary cross-entropy on probabilities, optional weights", "基于概率的二元交叉熵，可选逐元素权重",
    Function(
        "bce_loss", "probs, targets, weight=None", "loss, dprobs",
        "Binary cross-entropy averaged over all M elements (PyTorch's 'mean'):\n"
        "loss = -(1/M) sum_i w_i * (t_i * log(p_i) + (1 - t_i) * log(1 - p_i));\n"
        "dprobs_i = w_i * (p_i - t_i) / (p_i * (1 - p_i)) / M, with w_i = 1 when weight is None.\n\n"
        "probs, targets (and weight): the same shape, probs in (0, 1). " + _LOSS_RULE_EN,
        "二元交叉熵，在全部 M 个元素上取平均（即 PyTorch 的 'mean'）：\n"
        "loss = -(1/M) sum_i w_i * (t_i * log(p_i) + (1 - t_i) * log(1 - p_i))；\n"
        "dprobs_i = w_i * (p_i - t_i) / (p_i * (1 - p_i)) / M，weight 为 None 时 w_i = 1。\n\n"
        "probs、targets（以及 weight）形状相同，probs 在 (0, 1) 内。" + _LOSS_RULE_ZH,
    ),
)

_add(
    "mse_loss", "mean squared error", "均方误差",
    Function(
        "mse_loss", "pred, target", "loss, dpred",
        "Mean squared error over all M elements: loss = (1/M) sum_i (pred_i - target_i)^2;\n"
        "dpred_i = 2 * (pred_i - target_i) / M.\n\n"
        "pred, target: the same shape. " + _LOSS_RULE_EN,
        "在全部 M 个元素上的均方误差：loss = (1/M) sum_i (pred_i - target_i)^2；\n"
        "dpred_i = 2 * (pred_i - target_i) / M。\n\n"
        "pred 与 target 形状相同。" + _LOSS_RULE_ZH,
    ),
)

_add(
    "two_layer_net", "two-layer net: affine - ReLU - affine - softmax, with L2 regularisation",
    "两层网络：仿射 - ReLU - 仿射 - softmax，带 L2 正则化",
    Function(
        "two_layer_net_loss", "params, X, y=None, reg=0.0", "scores or (loss, grads)",
        "Loss and gradients of a two-layer fully connected net.\n"
        "h = max(0, X @ W1 + b1); scores = h @ W2 + b2.\n"
        "If y is None return scores (N, C). Otherwise return (loss, grads) with\n"
        "loss = softmax cross-entropy of scores averaged over the batch + 0.5 * reg * (sum W1^2 + sum W2^2)\n"
        "(biases are not regularised) and grads a dict with the keys of params: dW1, db1, dW2, db2\n"
        "of the loss, regularisation included (d(0.5 * reg * sum W^2) / dW = reg * W).\n\n"
        "params: dict with W1 (D, H), b1 (H,), W2 (H, C), b2 (C,); X: (N, D); y: (N,) labels.\n"
        "Do not modify params or X.",
        "两层全连接网络的损失与梯度。\n"
        "h = max(0, X @ W1 + b1)；scores = h @ W2 + b2。\n"
        "y 为 None 时返回 scores (N, C)。否则返回 (loss, grads)，其中\n"
        "loss = scores 的 softmax 交叉熵（批量平均）+ 0.5 * reg * (sum W1^2 + sum W2^2)\n"
        "（偏置不做正则化），grads 是与 params 键相同的字典：损失（含正则项）对 W1、b1、W2、b2 的梯度\n"
        "（d(0.5 * reg * sum W^2) / dW = reg * W）。\n\n"
        "params 为字典：W1 (D, H)，b1 (H,)，W2 (H, C)，b2 (C,)；X 为 (N, D)；y 为 (N,) 的标签。\n"
        "不要修改 params 或 X。",
    ),
)

_add(
    "sgd_momentum", "one step of SGD with momentum (PyTorch's form)", "带动量的 SGD 的一步更新（PyTorch 的形式）",
    Function(
        "sgd_momentum", "w, dw, config=None", "next_w, config",
        "One step of SGD with momentum, as torch.optim.SGD (and glassnet.optim.SGD) computes it:\n"
        "buf = dw at the first step, then buf = momentum * buf + dw;   next_w = w - lr * buf.\n"
        "config: a dict (None means {}) with 'lr' (default 1e-2), 'momentum' (default 0.9) and the\n"
        "state 'momentum_buffer' (absent before the first step). Return next_w, a new array of w's\n"
        "shape and dtype (w and dw are not modified), and config with the updated 'momentum_buffer'.",
        "带动量的 SGD 的一步更新，与 torch.optim.SGD（以及 glassnet.optim.SGD）的算法相同：\n"
        "第一步 buf = dw，之后 buf = momentum * buf + dw；next_w = w - lr * buf。\n"
        "config 为字典（None 表示 {}），包含 'lr'（默认 1e-2）、'momentum'（默认 0.9）和状态\n"
        "'momentum_buffer'（第一步之前不存在）。返回 next_w（与 w 形状和 dtype 相同的新数组，\n"
        "不修改 w 和 dw）以及更新了 'momentum_buffer' 的 config。",
    ),
)

_add(
    "adam", "one step of Adam with bias correction", "带偏差修正的 Adam 的一步更新",
    Function(
        "adam", "w, dw, config=None", "next_w, config",
        "One step of Adam, as torch.optim.Adam (and glassnet.optim.Adam) computes it, at step t = 1, 2, ...:\n"
        "m = beta1 * m + (1 - beta1) * dw;   v = beta2 * v + (1 - beta2) * dw^2   (m, v start at 0)\n"
        "m_hat = m / (1 - beta1^t);   v_hat = v / (1 - beta2^t)\n"
        "next_w = w - lr * m_hat / (sqrt(v_hat) + eps).\n"
        "config: a dict (None means {}) with 'lr' (default 1e-3), 'betas' (default (0.9, 0.999)),\n"
        "'eps' (default 1e-8) and the state 'exp_avg' (m), 'exp_avg_sq' (v), 'step' (t; absent before\n"
        "the first step). Return next_w, a new array of w's shape and dtype (w and dw are not\n"
        "modified), and config with the updated state.",
        "Adam 的一步更新，与 torch.optim.Adam（以及 glassnet.optim.Adam）的算法相同，第 t = 1, 2, ... 步：\n"
        "m = beta1 * m + (1 - beta1) * dw；v = beta2 * v + (1 - beta2) * dw^2（m、v 初始为 0）\n"
        "m_hat = m / (1 - beta1^t)；v_hat = v / (1 - beta2^t)\n"
        "next_w = w - lr * m_hat / (sqrt(v_hat) + eps)。\n"
        "config 为字典（None 表示 {}），包含 'lr'（默认 1e-3）、'betas'（默认 (0.9, 0.999)）、\n"
        "'eps'（默认 1e-8）以及状态 'exp_avg'（m）、'exp_avg_sq'（v）、'step'（t；第一步之前不存在）。\n"
        "返回 next_w（与 w 形状和 dtype 相同的新数组，不修改 w 和 dw）以及更新了状态的 config。",
    ),
)


def get(name) -> Exercise:
    """The exercise called ``name``; InputError listing the names otherwise."""
    try:
        return EXERCISES[name]
    except KeyError:
        raise InputError(f"unknown exercise {name!r}; choose one of: {', '.join(EXERCISES)}") from None
