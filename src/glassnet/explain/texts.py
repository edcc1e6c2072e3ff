"""The page's words, in English and Chinese: one line and one formula per layer type, and the UI labels.

A layer type registered in :mod:`glassnet.explain.layers` needs an entry in :data:`LAYERS` (the
tests check that every registered type has both languages).
"""
from __future__ import annotations

LANGS = ("en", "zh")

LAYERS = {
    "Conv2d": {
        "formula": "y[f,i,j] = b[f] + Σ_c Σ_a Σ_b w[f,c,a,b] · x[c, i·s+a·d−p, j·s+b·d−p]",
        "en": "Slides each filter over the input; every output value is a window of the input multiplied "
              "element by element with the filter, summed, plus the filter's bias.",
        "zh": "每个卷积核在输入上滑动：输出的每个值是输入的一个窗口与卷积核逐元素相乘后求和，再加上该卷积核的偏置。",
    },
    "Conv1d": {
        "formula": "y[f,i] = b[f] + Σ_c Σ_a w[f,c,a] · x[c, i·s+a·d−p]",
        "en": "Slides each filter along the signal; every output value is a stretch of the input multiplied "
              "element by element with the filter, summed, plus the filter's bias.",
        "zh": "每个卷积核沿着信号滑动：输出的每个值是输入的一段与卷积核逐元素相乘后求和，再加上该卷积核的偏置。",
    },
    "Linear": {
        "formula": "y[j] = b[j] + Σ_i x[i] · W[i,j]",
        "en": "Fully connected: every output is a weighted sum of all the inputs plus a bias.",
        "zh": "全连接层：每个输出都是全部输入的加权和再加上偏置。",
    },
    "MaxPool2d": {
        "formula": "y[c,i,j] = max_{a,b} x[c, i·s+a, j·s+b]",
        "en": "Keeps the largest value of each window; in the backward pass the gradient goes only to that winner.",
        "zh": "取每个窗口中的最大值；反向传播时梯度只流向这个最大值所在的位置。",
    },
    "AvgPool2d": {
        "formula": "y[c,i,j] = (1/(k·k)) Σ_{a,b} x[c, i·s+a, j·s+b]",
        "en": "Replaces each window by its mean; the gradient is shared equally by the window's inputs.",
        "zh": "用每个窗口的平均值代替该窗口；梯度平均分给窗口中的每个输入。",
    },
    "MaxPool1d": {
        "formula": "y[c,i] = max_a x[c, i·s+a]",
        "en": "Keeps the largest value of each stretch of the signal; the gradient goes only to that winner.",
        "zh": "取信号每一段中的最大值；反向传播时梯度只流向这个最大值所在的位置。",
    },
    "AvgPool1d": {
        "formula": "y[c,i] = (1/k) Σ_a x[c, i·s+a]",
        "en": "Replaces each stretch of the signal by its mean; the gradient is shared equally by its inputs.",
        "zh": "用信号每一段的平均值代替这一段；梯度平均分给这一段中的每个输入。",
    },
    "GlobalAvgPool1d": {
        "formula": "y[c] = (1/L) Σ_i x[c,i]",
        "en": "Averages each channel over the whole signal, leaving one number per channel.",
        "zh": "对每个通道在整段信号上求平均，每个通道只留下一个数。",
    },
    "GlobalAvgPool2d": {
        "formula": "y[c] = (1/(H·W)) Σ_{i,j} x[c,i,j]",
        "en": "Averages each channel over all its positions, leaving one number per channel.",
        "zh": "对每个通道的所有位置求平均，每个通道只留下一个数。",
    },
    "Flatten": {
        "formula": "y[c·H·W + i·W + j] = x[c,i,j]",
        "en": "Lays the feature maps out as one long vector; no arithmetic, only a new order.",
        "zh": "把特征图排成一个长向量；不做任何运算，只改变排列方式。",
    },
    "ReLU": {
        "formula": "y = max(0, z)",
        "en": "Passes positive values and sets negative ones to zero; the gradient passes only where z > 0.",
        "zh": "正值原样通过，负值变为零；梯度只在 z > 0 处传回。",
    },
    "LeakyReLU": {
        "formula": "y = z if z > 0 else α·z",
        "en": "Like ReLU, but negative values keep a small slope α so their gradient is not zero.",
        "zh": "与 ReLU 类似，但负值保留一个小斜率 α，梯度因此不为零。",
    },
    "Sigmoid": {
        "formula": "y = 1 / (1 + e^(−z))",
        "en": "Squashes any value into (0, 1); its slope y·(1 − y) is at most 1/4.",
        "zh": "把任意值压缩到 (0, 1) 区间；它的斜率 y·(1 − y) 最大为 1/4。",
    },
    "Tanh": {
        "formula": "y = tanh(z) = (e^z − e^(−z)) / (e^z + e^(−z))",
        "en": "Squashes any value into (−1, 1), centred on zero; its slope is 1 − y².",
        "zh": "把任意值压缩到 (−1, 1) 区间，以零为中心；它的斜率是 1 − y²。",
    },
    "Softmax": {
        "formula": "y[k] = e^(z[k]) / Σ_j e^(z[j])",
        "en": "Turns scores into probabilities: positive and summing to one.",
        "zh": "把分数变成概率：全为正且总和为一。",
    },
    "Dropout": {
        "formula": "y = z (evaluation);  y = z · m / (1 − p) (training)",
        "en": "During training it zeroes random values and rescales the rest; when evaluating, as here, it changes nothing.",
        "zh": "训练时随机把一些值置零并放大其余的值；评估时（如本页）它不做任何改变。",
    },
    "BatchNorm1d": {
        "formula": "y = γ · (x − μ) / √(σ² + ε) + β",
        "en": "Normalises each feature with the mean μ and variance σ² kept from training, then scales by γ and shifts by β.",
        "zh": "用训练时记录的均值 μ 和方差 σ² 对每个特征做归一化，再乘以 γ、加上 β。",
    },
    "BatchNorm2d": {
        "formula": "y[c,i,j] = γ[c] · (x[c,i,j] − μ[c]) / √(σ²[c] + ε) + β[c]",
        "en": "Normalises each channel with the mean μ and variance σ² kept from training, then scales by γ and shifts by β.",
        "zh": "用训练时记录的均值 μ 和方差 σ² 对每个通道做归一化，再乘以 γ、加上 β。",
    },
    "Residual": {
        "formula": "y = body(x) + shortcut(x)   (shortcut(x) = x when it is the identity)",
        "en": "A residual block adds its input, or a projection of it, to what its body computes; in the backward "
              "pass the gradient goes through both paths and the two input gradients are added.",
        "zh": "残差块把输入（或输入的投影）加到主体分支的计算结果上；反向传播时梯度同时流过两条路径，"
              "两条路径给出的输入梯度相加。",
    },
}

LOSS = {
    "logits": {
        "formula": "L = −log softmax(s)[t],   ∂L/∂s = softmax(s) − onehot(t)",
        "en": "Cross-entropy of the scores s for the target class t; the backward pass starts from its gradient.",
        "zh": "分数 s 对目标类别 t 的交叉熵；反向传播从它的梯度开始。",
    },
    "probabilities": {
        "formula": "L = −log p[t],   ∂L/∂p = −onehot(t) / p[t]",
        "en": "Negative log-probability of the target class t (the model already ends in Softmax).",
        "zh": "目标类别 t 的负对数概率（模型最后一层已经是 Softmax）。",
    },
}

UI = {
    "en": {
        "title": "Inside {model}: forward and backward for one input",
        "input": "Input", "output": "Output", "params": "parameters", "shape": "output shape",
        "activations": "Activations (forward)", "gradients": "Gradient of the loss w.r.t. this output (backward)",
        "weights": "Weights", "weight_grads": "Gradient of the loss w.r.t. the weights",
        "scores": "Scores", "probs": "Softmax probabilities", "predicted": "predicted",
        "target": "Target class for the backward pass", "loss": "Loss",
        "check": "Numerical gradient check (central differences, float64, sampled entries): relative error",
        "kinks": "entries on a kink skipped", "torch": "Largest difference from PyTorch autograd",
        "click": "Click any unit of a heat map to see how its value was computed.",
        "value": "value shown", "sum": "sum", "bias": "bias", "window": "input window", "kernel": "kernel",
        "products": "products", "channel": "channel", "winner": "the largest value wins",
        "terms": "largest terms x[i]·W[i,j]", "rest": "all other terms", "mean": "mean", "count": "count",
        "omitted": "too large to embed (cap {cap} values)", "channels_capped": "showing {shown} of {total} channels",
        "no_input": "this layer's input is too large to embed, so its computation cannot be shown",
        "not_embedded": "gradients for this target are not embedded (page size cap); run glassnet explain with --target {t}",
        "computed": "Computed by glassnet's hand-written forward and backward in float64 (model weights: {dtype}), evaluation mode.",
        "scale": "colour scale", "lang": "中文", "identity": "evaluation mode: identity",
        "index": "index", "grad": "gradient", "of": "of",
        "body": "body", "shortcut": "shortcut", "identity_shortcut": "identity shortcut",
    },
    "zh": {
        "title": "{model} 的内部：一个输入的前向与反向传播",
        "input": "输入", "output": "输出", "params": "个参数", "shape": "输出形状",
        "activations": "激活值（前向）", "gradients": "损失对该层输出的梯度（反向）",
        "weights": "权重", "weight_grads": "损失对权重的梯度",
        "scores": "分数", "probs": "Softmax 概率", "predicted": "预测",
        "target": "反向传播的目标类别", "loss": "损失",
        "check": "数值梯度检验（中心差分，float64，随机抽取的元素）：相对误差",
        "kinks": "个位于折点的元素已跳过", "torch": "与 PyTorch 自动求导的最大差异",
        "click": "点击热图中的任意单元，查看它的值是如何算出来的。",
        "value": "显示的值", "sum": "求和", "bias": "偏置", "window": "输入窗口", "kernel": "卷积核",
        "products": "乘积", "channel": "通道", "winner": "最大值胜出",
        "terms": "最大的几项 x[i]·W[i,j]", "rest": "其余各项", "mean": "平均值", "count": "个数",
        "omitted": "太大，未嵌入（上限 {cap} 个值）", "channels_capped": "显示 {total} 个通道中的 {shown} 个",
        "no_input": "该层的输入太大，未嵌入页面，因此无法显示计算过程",
        "not_embedded": "该目标类别的梯度未嵌入（页面大小上限）；请用 --target {t} 重新运行 glassnet explain",
        "computed": "由 glassnet 手写的前向与反向函数以 float64 计算（模型权重：{dtype}），评估模式。",
        "scale": "色标", "lang": "English", "identity": "评估模式：恒等映射",
        "index": "索引", "grad": "梯度", "of": "/",
        "body": "主体分支", "shortcut": "捷径分支", "identity_shortcut": "恒等捷径",
    },
}
