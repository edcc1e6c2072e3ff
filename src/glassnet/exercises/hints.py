"""Hint texts, in English and Chinese, one per classic mistake that :mod:`mistakes` recognises
(plus a few general ones the grader gives from the kind of failure)."""
from __future__ import annotations

HINTS = {
    "not_written": (
        "This function still raises NotImplementedError: write its body.",
        "这个函数仍然抛出 NotImplementedError：请写出函数体。"),
    "keep_dtype": (
        "The result is not float32 for float32 inputs: create arrays in the input's dtype "
        "(np.zeros_like(x), np.zeros(shape, dtype=x.dtype)).",
        "输入是 float32 时结果却不是 float32：请按输入的 dtype 创建数组（np.zeros_like(x)、np.zeros(shape, dtype=x.dtype)）。"),
    "in_place": (
        "An input was changed: compute the result into a new array (dx = dout * mask, not dout[mask] = 0).",
        "某个输入被修改了：请把结果写进新数组（dx = dout * mask，而不是 dout[mask] = 0）。"),
    "forgot_dout": (
        "The gradient is the local derivative alone: multiply it by dout (chain rule).",
        "梯度只是局部导数：还要乘以 dout（链式法则）。"),
    "fix_forward": (
        "Your backward agrees with glassnet's, so the forward it is checked against is what is wrong: fix the forward first.",
        "你的反向传播与 glassnet 一致，数值梯度检查用的是你的前向传播，所以错在前向：请先改正前向传播。"),
    "no_bias": (
        "The bias is missing: add b to every output.",
        "缺少偏置：每个输出都要加上 b。"),
    "reshape_dx": (
        "dx has the flattened shape (N, D): reshape it to x's shape.",
        "dx 是展平后的形状 (N, D)：请把它变回 x 的形状。"),
    "sum_db": (
        "db must be summed over the batch: db = dout.sum(axis=0).",
        "db 需要在批量维度上求和：db = dout.sum(axis=0)。"),
    "relu_zero": (
        "At x = 0 the gradient must be 0: use x > 0, not x >= 0.",
        "x = 0 处梯度应为 0：请用 x > 0，而不是 x >= 0。"),
    "leaky_slope": (
        "Where x <= 0 the gradient is slope * dout, not 0.",
        "x <= 0 处的梯度是 slope * dout，而不是 0。"),
    "use_slope": (
        "The result uses the default slope 0.01: use the slope argument.",
        "结果用的是默认斜率 0.01：请使用参数 slope。"),
    "sigmoid_overflow": (
        "NaN or inf for large |x|: exp overflows. Use 1 / (1 + exp(-x)) for x >= 0 and exp(x) / (1 + exp(x)) for x < 0.",
        "|x| 很大时出现 NaN 或 inf：exp 溢出了。x >= 0 时用 1 / (1 + exp(-x))，x < 0 时用 exp(x) / (1 + exp(x))。"),
    "accumulate": (
        "dx is right only where windows do not overlap: several windows (and filters) send gradient to the same "
        "pixel, so accumulate with += instead of overwriting with =.",
        "dx 只在窗口不重叠的地方正确：多个窗口（以及多个滤波器）会把梯度传到同一个像素，"
        "所以要用 += 累加，而不是用 = 覆盖。"),
    "crop_padding": (
        "dx has the padded shape: crop the padding off (dx_pad[:, :, pad:-pad, pad:-pad]).",
        "dx 是填充后的形状：请去掉填充部分（dx_pad[:, :, pad:-pad, pad:-pad]）。"),
    "flipped_kernel": (
        "This is a true convolution (kernel flipped): CNN layers compute cross-correlation, "
        "w[f, c, a, b] multiplies xp[n, c, i*stride + a, j*stride + b].",
        "这是翻转了卷积核的真正卷积：CNN 的卷积层计算的是互相关，"
        "w[f, c, a, b] 乘的是 xp[n, c, i*stride + a, j*stride + b]。"),
    "pool_ties": (
        "On ties the gradient goes to every maximum: give it to the first maximum only, as PyTorch does.",
        "有多个相同最大值时梯度传给了每一个：应只传给第一个最大值（与 PyTorch 一致）。"),
    "avg_divide": (
        "The gradient of an average is dout divided by the number of averaged values: divide by it.",
        "平均值的梯度是 dout 除以参与平均的元素个数：请除以这个数。"),
    "bn_mean_terms": (
        "Batch-norm dx is missing the mean terms: in train mode mu and var depend on x, so "
        "dx = (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)) / sqrt(var + eps).",
        "批量归一化的 dx 缺少均值项：训练模式下 mu 和 var 都依赖 x，所以 "
        "dx = (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)) / sqrt(var + eps)。"),
    "bn_unbiased": (
        "The running variance takes the unbiased batch variance var * m / (m - 1); the normalisation uses the biased one.",
        "滑动方差要用无偏的批量方差 var * m / (m - 1)；归一化本身用有偏方差。"),
    "bn_momentum": (
        "momentum weighs the new batch: running = (1 - momentum) * running + momentum * batch (PyTorch's convention).",
        "momentum 是新批量的权重：running = (1 - momentum) * running + momentum * batch（PyTorch 的约定）。"),
    "bn_eval": (
        "In eval mode normalise with the running mean and variance, not the batch statistics.",
        "评估模式下要用滑动均值和方差归一化，而不是该批数据的统计量。"),
    "inverted_dropout": (
        "Gradient or output off by 1/(1-p): inverted dropout scales the kept units by 1/(1-p) at train time, "
        "in the forward and the backward pass.",
        "梯度或输出差了 1/(1-p) 倍：反向缩放的 Dropout 在训练时要把保留的单元乘以 1/(1-p)，前向和反向都要。"),
    "dropout_p": (
        "About 1 - p of the units were dropped: p is the probability to drop a unit (keep = rng.random(shape) >= p).",
        "被丢弃的比例约为 1 - p：p 是丢弃的概率（keep = rng.random(shape) >= p）。"),
    "dropout_eval": (
        "In eval mode dropout is the identity: out = x.",
        "评估模式下 Dropout 不做任何变换：out = x。"),
    "subtract_max": (
        "NaN or inf with large scores: exp overflows. Subtract each row's maximum score before exp.",
        "分数很大时出现 NaN 或 inf：exp 溢出了。在 exp 之前先减去每一行的最大分数。"),
    "divide_n": (
        "Off by a factor N (the batch size): average the loss and its gradient over the batch.",
        "差了 N 倍（批量大小）：损失和梯度都要在批量上取平均。"),
    "svm_true_class": (
        "The true class is counted in the hinge sum (it adds delta per sample): skip j == y[n].",
        "合页损失的求和把正确类别也算进去了（每个样本多出 delta）：跳过 j == y[n]。"),
    "mean_elements": (
        "Average over all elements (PyTorch's 'mean'), not only over the batch.",
        "要在全部元素上取平均（PyTorch 的 'mean'），而不只是在批量上。"),
    "bce_weight": (
        "The weight must multiply each element's loss and its gradient.",
        "权重 weight 要乘到每个元素的损失和梯度上。"),
    "mse_two": (
        "d(p - t)^2 / dp = 2 (p - t): the gradient is missing the factor 2.",
        "d(p - t)^2 / dp = 2 (p - t)：梯度少了因子 2。"),
    "reg_grad": (
        "dW1 and dW2 are missing the regularisation gradient reg * W.",
        "dW1 和 dW2 缺少正则项的梯度 reg * W。"),
    "reg_half": (
        "The penalty is 0.5 * reg * sum W^2 (its gradient is reg * W), not reg * sum W^2.",
        "正则项是 0.5 * reg * sum W^2（梯度为 reg * W），而不是 reg * sum W^2。"),
    "reg_bias": (
        "Biases are not regularised: leave b1 and b2 out of the penalty.",
        "偏置不做正则化：正则项里不要包含 b1 和 b2。"),
    "relu_mask": (
        "Through the ReLU the gradient must be zeroed where the hidden pre-activation is <= 0.",
        "反向穿过 ReLU 时，隐藏层激活前的值 <= 0 处梯度要置零。"),
    "store_state": (
        "From the second step on the result ignores the earlier steps: store the state in config and return it.",
        "从第二步开始结果与之前的步骤无关：请把状态存进 config 并返回。"),
    "momentum_form": (
        "This is the averaging form buf = momentum * buf + (1 - momentum) * dw; PyTorch and glassnet use "
        "buf = momentum * buf + dw.",
        "这是取平均的形式 buf = momentum * buf + (1 - momentum) * dw；PyTorch 和 glassnet 用的是 "
        "buf = momentum * buf + dw。"),
    "adam_bias": (
        "Adam's bias correction is missing: divide m by (1 - beta1^t) and v by (1 - beta2^t).",
        "缺少 Adam 的偏差修正：m 除以 (1 - beta1^t)，v 除以 (1 - beta2^t)。"),
    "adam_eps": (
        "eps goes outside the square root: sqrt(v_hat) + eps.",
        "eps 应该在平方根外面：sqrt(v_hat) + eps。"),
    "adam_step": (
        "The step count t must grow by one at every step (1, 2, 3, ...) and be kept in config['step'].",
        "步数 t 每一步都要加一（1, 2, 3, ...），并保存在 config['step'] 中。"),
    "timeout": (
        "Look for a loop that never ends (a while loop whose condition never changes, an index never advanced).",
        "检查是否有永不结束的循环（条件从不改变的 while 循环、从不前进的下标）。"),
}


def text(key, lang="en") -> str:
    """The hint ``key`` in ``lang`` ("en" or "zh")."""
    en, zh = HINTS[key]
    return zh if lang == "zh" else en
