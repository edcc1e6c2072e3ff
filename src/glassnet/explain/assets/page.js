// glassnet explain: draws the network from the embedded glassnet-data block (no network access).
// Arrays in the data are {shape, f64: base64 of little-endian float64}; see glassnet/explain/arrays.py.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("glassnet-data").textContent);
  const state = { lang: DATA.lang, target: DATA.default_target, selected: null };

  // ------------------------------------------------------------------ arrays
  const cache = new Map();
  function arr(entry) {
    if (!entry || entry.omitted || entry.f64 === undefined) return null;
    if (!cache.has(entry)) {
      const bin = atob(entry.f64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      cache.set(entry, new Float64Array(bytes.buffer));
    }
    return cache.get(entry);
  }
  const prod = (shape) => shape.reduce((a, b) => a * b, 1);
  // A per-sample shape as (channels, rows, cols): [C,H,W] as is, [C,L] as C rows of 1 x L, [D] as one map.
  function as3d(shape) {
    if (shape.length === 3) return shape;
    if (shape.length === 2) return [shape[0], 1, shape[1]];
    const d = prod(shape), cols = Math.min(d, 32);
    return [1, Math.ceil(d / cols), cols];
  }

  // ------------------------------------------------------------------ text
  const T = (key, vars) => {
    let s = DATA.texts.ui[state.lang][key] || key;
    for (const k in vars || {}) s = s.replace("{" + k + "}", vars[k]);
    return s;
  };
  const fmt = (v) => {
    if (v === 0) return "0";
    const a = Math.abs(v);
    return a >= 1e4 || a < 1e-3 ? v.toExponential(3) : v.toFixed(4).replace(/\.?0+$/, "");
  };
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      if (k === "class") e.className = attrs[k];
      else if (k === "text") e.textContent = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  const short = (v) => (v === 0 ? "0" : Math.abs(v) >= 1e3 || Math.abs(v) < 1e-2 ? v.toExponential(1) : v.toPrecision(3));
  const num = (v, cls) => el("span", { class: cls || "num", "data-v": String(v), title: String(v), text: fmt(v) });

  // ------------------------------------------------------------------ colours
  // Diverging blue-white-red for signed data (symmetric around 0), white-to-blue for non-negative data.
  function scaleOf(values) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (!isFinite(lo)) { lo = 0; hi = 0; }
    const diverging = lo < 0;
    const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    return { lo, hi, diverging, m };
  }
  function colour(v, s) {
    if (s.diverging) {
      const t = Math.max(-1, Math.min(1, v / s.m));
      const end = t < 0 ? [33, 102, 172] : [178, 24, 43];
      const a = Math.abs(t);
      return [255 + (end[0] - 255) * a, 255 + (end[1] - 255) * a, 255 + (end[2] - 255) * a];
    }
    const t = Math.max(0, Math.min(1, v / s.m));
    return [255 - 247 * t, 255 - 207 * t, 255 - 148 * t];
  }
  function scaleLegend(s) {
    const c = el("canvas", { width: 120, height: 1 });
    const ctx = c.getContext("2d"), img = ctx.createImageData(120, 1);
    for (let i = 0; i < 120; i++) {
      const v = s.diverging ? -s.m + (2 * s.m * i) / 119 : (s.m * i) / 119;
      const [r, g, b] = colour(v, s);
      img.data.set([r, g, b, 255], 4 * i);
    }
    ctx.putImageData(img, 0, 0);
    return el("div", { class: "scale" }, T("scale") + ":", num(s.diverging ? -s.m : 0), c, num(s.m),
      el("span", { text: `(min ${fmt(s.lo)}, max ${fmt(s.hi)})` }));
  }
  // Draw values[offset .. offset + h*w) as an h x w map (cells beyond `count` stay blank).
  function drawMap(values, offset, h, w, s, cell, count) {
    const c = el("canvas", { width: w, height: h });
    c.style.width = w * cell + "px";
    c.style.height = h * cell + "px";
    const ctx = c.getContext("2d"), img = ctx.createImageData(w, h);
    const n = count === undefined ? h * w : count;
    for (let i = 0; i < h * w; i++) {
      const [r, g, b] = i < n ? colour(values[offset + i], s) : [244, 245, 248];
      img.data.set([r, g, b, 255], 4 * i);
    }
    ctx.putImageData(img, 0, 0);
    return c;
  }
  const cellFor = (h, w) => Math.max(2, Math.min(12, Math.floor(96 / Math.max(h, w))));
  const SIGNAL_STRIP_PX = 16;

  // ------------------------------------------------------------------ heat maps of one array
  // kind: "act" or "grad"; layer: index (-1 for the input). Each channel is a clickable canvas.
  function heatMaps(entry, shape, kind, layer) {
    const box = el("div", { class: "heat-maps", "data-kind": kind });
    if (entry === null) return box;
    const values = arr(entry);
    if (!values) { box.append(omitted(entry)); return box; }
    const [C, H, W] = as3d(shape), n = prod(shape);
    const s = scaleOf(values);
    const shown = Math.min(C, DATA.caps.max_channels);
    box.append(scaleLegend(s));
    const maps = el("div", { class: "maps" });
    const signal = shape.length === 2;  // (C, L): each channel a strip of L cells, widened and raised to be seen and clicked
    const cell = shape.length === 1 ? 12 : signal ? Math.max(2, Math.min(12, Math.floor(240 / W))) : cellFor(H, W);
    for (let c = 0; c < shown; c++) {
      const canvas = drawMap(values, c * H * W, H, W, s, cell, Math.min(H * W, n - c * H * W));
      if (signal) canvas.style.height = SIGNAL_STRIP_PX + "px";
      canvas.className = "heat";
      Object.assign(canvas.dataset, { layer: String(layer), channel: String(c), kind });
      canvas.addEventListener("click", (e) => {
        const r = canvas.getBoundingClientRect();
        const i = Math.max(0, Math.min(H - 1, Math.floor(((e.clientY - r.top) / r.height) * H)));
        const j = Math.max(0, Math.min(W - 1, Math.floor(((e.clientX - r.left) / r.width) * W)));
        const flat = c * H * W + i * W + j;
        if (flat < n) showUnit(layer, flat);
      });
      maps.append(el("div", { class: "map" }, canvas, C > 1 ? el("span", { text: String(c) }) : null));
    }
    box.append(maps);
    if (shown < C) box.append(el("div", { class: "note", text: T("channels_capped", { shown, total: C }) }));
    return box;
  }
  function omitted(entry) {
    return el("div", { class: "note" }, `${JSON.stringify(entry.shape)}: ${T("omitted", { cap: DATA.caps.max_values })}` +
      (entry.omitted ? ` (min ${fmt(entry.min)}, max ${fmt(entry.max)}, norm ${fmt(entry.norm)})` : ""));
  }
  // A weight array: conv filters (F, C, kh, kw) as an F x C grid of kernels, matrices as one map, vectors as a strip.
  function weightMap(entry, name) {
    const box = el("div", { class: "weight", "data-param": name }, el("h3", { text: `${name} ${JSON.stringify(entry.shape)}` }));
    const values = arr(entry);
    if (!values) { box.append(omitted(entry)); return box; }
    const s = scaleOf(values);
    box.append(scaleLegend(s));
    const shape = entry.shape;
    if (shape.length >= 3) {
      // Filters wrap into rows of fc filters; each filter is its C kernels side by side.
      const F = shape[0], C = shape[1], kh = shape.length === 4 ? shape[2] : 1, kw = shape[shape.length - 1];
      const fs = Math.min(F, DATA.caps.max_channels), cs = Math.min(C, DATA.caps.max_channels);
      const tw = cs * (kw + 1) + 1, th = kh + 1;
      const fc = Math.max(1, Math.min(fs, Math.round(Math.sqrt((2 * fs * th) / tw))));
      const W = fc * tw, H = Math.ceil(fs / fc) * th;
      const c = el("canvas", { width: W, height: H });
      const cell = Math.max(1, Math.min(8, Math.floor(480 / W)));
      c.style.width = W * cell + "px";
      c.style.height = H * cell + "px";
      const ctx = c.getContext("2d"), img = ctx.createImageData(W, H);
      img.data.fill(255);
      for (let f = 0; f < fs; f++) for (let ch = 0; ch < cs; ch++) for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) {
        const [r, g, bl] = colour(values[((f * C + ch) * kh + a) * kw + b], s);
        const row = Math.floor(f / fc) * th + a, col = (f % fc) * tw + ch * (kw + 1) + b;
        img.data.set([r, g, bl, 255], 4 * (row * W + col));
      }
      ctx.putImageData(img, 0, 0);
      box.append(c);
      if (fs < F || cs < C) box.append(el("div", { class: "note", text: T("channels_capped", { shown: `${fs}x${cs}`, total: `${F}x${C}` }) }));
    } else if (shape.length === 2) {
      // Linear weights (in, out) drawn as out rows of in columns.
      const [I, O] = shape, t = new Float64Array(I * O);
      for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) t[o * I + i] = values[i * O + o];
      box.append(drawMap(t, 0, O, I, s, Math.max(1, Math.min(8, Math.floor(480 / I)))));
    } else {
      box.append(drawMap(values, 0, 1, values.length, s, Math.max(2, Math.min(12, Math.floor(480 / values.length)))));
    }
    return box;
  }

  // ------------------------------------------------------------------ the page
  function layerInput(k) {
    return k === 0 ? DATA.input.values : DATA.layers[k - 1].output;
  }
  function layerInputShape(k) {
    return k === 0 ? DATA.input.shape : DATA.layers[k - 1].out_shape;
  }
  const currentTarget = () => DATA.targets.find((t) => t.target === state.target) || DATA.targets[0];

  function checkLine(check, torch) {
    const line = el("div", { class: "check" }, T("check") + ": ");
    let kinks = 0;
    for (const name in check) {
      const c = check[name];
      kinks += c.kinks;
      const ok = c.error !== null && c.error < 1e-6;
      line.append(el("span", { "data-check": name }, `${name} `,
        el("span", { class: ok ? "ok" : "bad", text: c.error === null ? "-" : c.error.toExponential(1) }),
        ` (${c.entries}); `));
    }
    if (kinks) line.append(el("span", { text: `${kinks} ${T("kinks")}` }));
    const box = el("div", {}, line);
    if (torch) {
      const parts = Object.entries(torch).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(", ");
      box.append(el("div", { class: "check torch", text: `${T("torch")}: ${parts}` }));
    }
    return box;
  }

  function layerCard(layer, k, target) {
    const text = DATA.texts.layers[layer.text] || {};
    const card = el("section", { class: "card layer", id: `layer-${k}`, "data-type": layer.type, "data-name": layer.name },
      el("h2", { text: layer.type }),
      el("span", { class: "meta", text: `[${layer.name}]  ${T("shape")} ${JSON.stringify(layer.out_shape)}  ·  ${layer.params.toLocaleString("en")} ${T("params")}` }),
      el("div", { class: "repr", text: layer.repr }),
      el("div", { class: "explain-text", text: text[state.lang] || "" }),
      el("div", { class: "formula", text: text.formula || "" }));
    const fwd = el("div", { class: "forward" }, el("h3", { text: T("activations") }), heatMaps(layer.output, layer.out_shape, "act", k));
    const weights = Object.entries(layer.weights);
    const sections = el("div", { class: "sections" }, fwd);
    if (weights.length) sections.append(el("div", { class: "weights" }, el("h3", { text: T("weights") }), ...weights.map(([n, e]) => weightMap(e, n))));
    card.append(sections);
    const g = target.layers[k];
    const back = el("div", { class: "backward", "data-target": String(target.target) });
    back.append(el("h3", { text: T("gradients") }));
    if (g.output_grad === null) back.append(el("div", { class: "note", text: T("not_embedded", { t: DATA.classes[target.target] }) }));
    else back.append(heatMaps(g.output_grad, layer.out_shape, "grad", k));
    const backSections = el("div", { class: "sections" }, back);
    if (weights.length) {
      const wg = el("div", { class: "weight-grads" }, el("h3", { text: T("weight_grads") }));
      if (g.weight_grads === null) wg.append(el("div", { class: "note", text: T("not_embedded", { t: DATA.classes[target.target] }) }));
      else for (const [n, e] of Object.entries(g.weight_grads)) wg.append(weightMap(e, "∂L/∂" + n));
      backSections.append(wg);
    }
    card.append(backSections, checkLine(g.check, g.torch));
    return card;
  }

  function inputCard(target) {
    return el("section", { class: "card layer", id: "layer-input", "data-type": "Input" },
      el("h2", { text: T("input") }),
      el("span", { class: "meta", text: `${DATA.input.label}  ·  ${T("shape")} ${JSON.stringify(DATA.input.shape)}` }),
      el("div", { class: "sections" },
        el("div", { class: "forward" }, el("h3", { text: T("activations") }), heatMaps(DATA.input.values, DATA.input.shape, "act", -1)),
        el("div", { class: "backward" }, el("h3", { text: "∂L/∂x" }), heatMaps(target.input_grad, DATA.input.shape, "grad", -1))));
  }

  function bars(values, labels, kind, target) {
    const box = el("div", { class: "bars", "data-kind": kind });
    const m = Math.max(...Array.from(values, Math.abs)) || 1;
    const signed = Array.from(values).some((v) => v < 0);
    values.forEach((v, k) => {
      const bar = el("div", { class: "bar" + (v < 0 ? " neg" : "") });
      const frac = Math.abs(v) / m;
      if (signed) { bar.style.left = (v < 0 ? 50 - 50 * frac : 50) + "%"; bar.style.width = 50 * frac + "%"; }
      else { bar.style.left = "0"; bar.style.width = 100 * frac + "%"; }
      const cls = (k === DATA.predicted ? "predicted " : "") + (k === target ? "target-label" : "");
      box.append(el("span", { class: cls, text: labels[k] }), el("div", { class: "bar-track " + cls }, bar), num(v, "bar-value"));
    });
    return box;
  }

  function outputCard(target) {
    const loss = DATA.texts.loss[DATA.probabilities ? "probabilities" : "logits"];
    return el("section", { class: "card", id: "output" },
      el("h2", { text: T("output") }),
      el("span", { class: "meta", text: `${T("predicted")}: ${DATA.classes[DATA.predicted]}` }),
      el("div", { class: "sections" },
        el("div", {}, el("h3", { text: T("scores") }), bars(arr(DATA.scores), DATA.classes, "scores", target.target)),
        el("div", {}, el("h3", { text: T("probs") }), bars(arr(DATA.probs), DATA.classes, "probs", target.target)),
        el("div", {}, el("h3", { text: "∂L/∂s" }), bars(arr(target.dscores), DATA.classes, "dscores", target.target))),
      el("div", { class: "explain-text", text: loss[state.lang] }),
      el("div", { class: "formula", text: loss.formula }),
      el("div", { class: "eq", text: `${T("loss")} (${DATA.classes[target.target]}) = ${target.loss}` }),
      target.torch ? el("div", { class: "check torch", text:
        `${T("torch")}: ∂L/∂x ${target.torch.input_grad.toExponential(1)}, ${T("loss")} ${target.torch.loss.toExponential(1)}` }) : null);
  }

  // The network at a glance: input, then each layer's type, output shape and parameter count (links to its card).
  function overview() {
    const chip = (href, type, shape, params) => el("a", { class: "chip", href },
      el("b", { text: type }), el("span", { text: JSON.stringify(shape) }), params ? el("span", { text: `${params.toLocaleString("en")}` }) : null);
    const nav = el("nav", { class: "card", id: "overview" }, chip("#layer-input", T("input"), DATA.input.shape, 0));
    DATA.layers.forEach((layer, k) => nav.append(el("span", { class: "op", text: "→" }),
      chip(`#layer-${k}`, layer.type, layer.out_shape, layer.params)));
    return nav;
  }

  function render() {
    document.documentElement.lang = state.lang;
    const target = currentTarget();
    document.getElementById("title").textContent = T("title", { model: DATA.model.name });
    document.getElementById("computed").textContent =
      `${T("computed", { dtype: DATA.model.dtype })}  ${DATA.model.params.toLocaleString("en")} ${T("params")}.`;
    document.getElementById("hint").textContent = T("click");
    document.getElementById("target-label").textContent = T("target");
    document.getElementById("lang-switch").textContent = T("lang");
    document.getElementById("loss-line").textContent =
      `${T("loss")}: ${DATA.texts.loss[DATA.probabilities ? "probabilities" : "logits"].formula}`;
    const select = document.getElementById("target-select");
    select.replaceChildren(...DATA.targets.map((t) =>
      el("option", { value: String(t.target), text: `${DATA.classes[t.target]} (p = ${arr(DATA.probs)[t.target].toFixed(3)})` })));
    select.value = String(target.target);
    const net = document.getElementById("network");
    net.replaceChildren(overview(), inputCard(target), ...DATA.layers.map((layer, k) => layerCard(layer, k, target)),
      outputCard(target));
    if (state.selected) showUnit(state.selected.layer, state.selected.index);
  }

  // ------------------------------------------------------------------ unit panel
  function unravel(flat, shape) {
    const idx = [];
    for (let d = shape.length - 1; d >= 0; d--) { idx.unshift(flat % shape[d]); flat = Math.floor(flat / shape[d]); }
    return idx;
  }
  function ravel(idx, shape) { return idx.reduce((a, i, d) => a * shape[d] + i, 0); }
  function grid(rows, cols, value, classOf) {
    const t = el("table", { class: "grid" });
    for (let a = 0; a < rows; a++) {
      const tr = el("tr");
      for (let b = 0; b < cols; b++) {
        const v = value(a, b);
        const td = el("td", { class: (classOf && classOf(a, b)) || "" });
        if (v === null) { td.textContent = "0"; td.className += " pad"; }
        else { td.textContent = short(v); td.dataset.v = String(v); td.title = String(v); }
        tr.append(td);
      }
      t.append(tr);
    }
    return t;
  }
  const eq = (...parts) => el("div", { class: "eq" }, ...parts);
  const formulaOf = (layer) => el("div", { class: "formula", text: (DATA.texts.layers[layer.text] || {}).formula || "" });

  function showUnit(k, flat) {
    state.selected = { layer: k, index: flat };
    document.querySelectorAll("canvas.selected").forEach((c) => c.classList.remove("selected"));
    const panel = document.getElementById("unit-panel");
    panel.hidden = false;
    panel.replaceChildren();
    const close = el("button", { type: "button", class: "close", text: "×" });
    close.addEventListener("click", () => { panel.hidden = true; state.selected = null; });
    const isInput = k < 0;
    const layer = isInput ? null : DATA.layers[k];
    const shape = isInput ? DATA.input.shape : layer.out_shape;
    const values = arr(isInput ? DATA.input.values : layer.output);
    const idx = unravel(flat, shape);
    const y = values[flat];
    const target = currentTarget();
    const gradEntry = isInput ? target.input_grad : target.layers[k].output_grad;
    const grad = arr(gradEntry);
    Object.assign(panel.dataset, { layer: String(k), index: String(flat), unit: isInput ? "input" : layer.unit });
    panel.append(close, el("h2", { text: isInput ? T("input") : `${layer.type} [${layer.name}]` }),
      eq(`y[${idx.join(",")}] = `, num(y, "unit-value")),
      grad ? eq(`∂L/∂y[${idx.join(",")}] = `, num(grad[flat], "unit-grad")) : null);
    const c3 = as3d(shape);
    document.querySelectorAll(`canvas.heat[data-layer="${k}"]`).forEach((cv) => {
      if (Number(cv.dataset.channel) === Math.floor(flat / (c3[1] * c3[2]))) cv.classList.add("selected");
    });
    if (isInput) return;
    const xin = arr(layerInput(k));
    if (!xin) { panel.append(el("div", { class: "note", text: T("no_input") })); return; }
    const body = UNITS[layer.unit](layer, k, xin, layerInputShape(k), idx, flat, y);
    panel.append(body);
  }

  // One function per unit panel (glassnet.explain.layers.UNITS): each shows how y was computed.
  const UNITS = {
    conv(layer, k, x, xshape, idx, flat, y) {
      const d = layer.details, w = arr(layer.weights.weight), wshape = layer.weights.weight.shape;
      const b = layer.weights.bias ? arr(layer.weights.bias) : null;
      const [C, H, W] = as3d(xshape);
      const F = wshape[0], Cg = wshape[1], kh = wshape.length === 4 ? wshape[2] : 1, kw = wshape[wshape.length - 1];
      const o3 = as3d(layer.out_shape);
      const f = idx[0], i = o3[1] === 1 && idx.length < 3 ? 0 : idx[1], j = idx[idx.length - 1];
      const [sh, sw] = d.stride, [ph, pw] = d.pad, [dh, dw] = d.dilation;
      const groupSize = F / d.groups, c0 = Math.floor(f / groupSize) * Cg;
      const box = el("div", { class: "unit conv" });
      box.append(formulaOf(layer));
      box.append(el("div", { class: "conv-head" }, el("span", { text: T("channel") }),
        el("span", { text: `${T("window")} ⊙ ${T("kernel")} → ${T("products")}, Σ` })));
      const partials = [];
      const MAX_DRAWN = 16;
      for (let cc = 0; cc < Cg; cc++) {
        const c = c0 + cc;
        const xv = (a, bb) => {
          const r = i * sh + a * dh - ph, q = j * sw + bb * dw - pw;
          return r < 0 || r >= H || q < 0 || q >= W ? null : x[(c * H + r) * W + q];
        };
        const wv = (a, bb) => w[((f * Cg + cc) * kh + a) * kw + bb];
        let partial = 0;
        for (let a = 0; a < kh; a++) for (let bb = 0; bb < kw; bb++) partial += (xv(a, bb) || 0) * wv(a, bb);
        partials.push(partial);
        const row = el("div", { class: "conv-channel", "data-channel": String(c), "data-v": String(partial) },
          el("span", { class: "ch", text: `${c}:` }));
        if (cc < MAX_DRAWN) {
          row.append(grid(kh, kw, xv), el("span", { class: "op", text: "⊙" }), grid(kh, kw, wv),
            el("span", { class: "op", text: "→" }),
            grid(kh, kw, (a, bb) => (xv(a, bb) || 0) * wv(a, bb), () => "product"));
        }
        row.append(el("span", { class: "op", text: "Σ =" }), num(partial, "partial"));
        box.append(row);
      }
      const total = partials.reduce((s, v) => s + v, 0) + (b ? b[f] : 0);
      box.append(eq(`Σ_c = `, num(partials.reduce((s, v) => s + v, 0), "unit-sum"), ` + ${T("bias")} `,
        num(b ? b[f] : 0, "unit-bias"), " = ", num(total, "unit-total")),
        eq(`${T("value")}: `, num(y)));
      return box;
    },
    affine(layer, k, x, xshape, idx, flat, y) {
      const d = layer.details, j = flat, kk = d.top_index.shape[1];
      const I = arr(d.top_index), X = arr(d.top_x), Wt = arr(d.top_w), rest = arr(d.rest)[j];
      const b = layer.weights.bias ? arr(layer.weights.bias)[j] : 0;
      const t = el("table", { class: "grid" }, el("tr", {}, el("td", { text: "i" }), el("td", { text: "x[i]" }),
        el("td", { text: `W[i,${j}]` }), el("td", { text: "x[i]·W[i,j]" })));
      let listed = 0;
      for (let r = 0; r < kk; r++) {
        const p = X[j * kk + r] * Wt[j * kk + r];
        listed += p;
        t.append(el("tr", {}, el("td", { text: String(I[j * kk + r]) }), el("td", {}, num(X[j * kk + r])),
          el("td", {}, num(Wt[j * kk + r])), el("td", { class: "product" }, num(p, "term"))));
      }
      const total = b + listed + rest;
      return el("div", { class: "unit affine" }, formulaOf(layer),
        el("h3", { text: T("terms") }), t,
        eq(`${T("bias")} `, num(b, "unit-bias"), " + Σ ", num(listed, "unit-sum"), ` + ${T("rest")} `, num(rest, "unit-rest"),
          " = ", num(total, "unit-total")),
        eq(`${T("value")}: `, num(y)));
    },
    max_pool(layer, k, x, xshape, idx, flat, y) { return pool(layer, x, xshape, idx, y, true); },
    avg_pool(layer, k, x, xshape, idx, flat, y) { return pool(layer, x, xshape, idx, y, false); },
    global_avg_pool(layer, k, x, xshape, idx, flat, y) {
      const [, H, W] = as3d(xshape), c = idx[0];
      let s = 0;
      for (let q = 0; q < H * W; q++) s += x[c * H * W + q];
      return el("div", { class: "unit gap" }, formulaOf(layer),
        grid(H, W, (a, b) => x[(c * H + a) * W + b]),
        eq(`${T("sum")} `, num(s, "unit-sum"), ` / ${T("count")} ${H * W} = `, num(s / (H * W), "unit-total")),
        eq(`${T("value")}: `, num(y)));
    },
    elementwise(layer, k, x, xshape, idx, flat, y) {
      const z = x[flat], d = layer.details;
      const f = {
        relu: [`max(0, ${fmt(z)})`, Math.max(0, z)],
        leaky_relu: [z > 0 ? `${fmt(z)} > 0 → ${fmt(z)}` : `${d.slope} · ${fmt(z)}`, z > 0 ? z : d.slope * z],
        sigmoid: [`1 / (1 + e^(−(${fmt(z)})))`, 1 / (1 + Math.exp(-z))],
        tanh: [`tanh(${fmt(z)})`, Math.tanh(z)],
      }[d.fn];
      return el("div", { class: "unit elementwise" }, formulaOf(layer),
        eq("z = ", num(z, "unit-input")), eq(`y = ${f[0]} = `, num(f[1], "unit-total")), eq(`${T("value")}: `, num(y)));
    },
    softmax(layer, k, x, xshape, idx, flat, y) {
      // Softmax along `axis` of the per-sample array: the unit's line of values along that axis.
      const axis = layer.details.axis, shape = xshape, line = [];
      for (let t = 0; t < shape[axis]; t++) { const id = idx.slice(); id[axis] = t; line.push(x[ravel(id, shape)]); }
      const m = Math.max(...line), e = line.map((v) => Math.exp(v - m)), s = e.reduce((a, v) => a + v, 0);
      const z = x[flat];
      return el("div", { class: "unit softmax" }, formulaOf(layer),
        eq("z = ", num(z, "unit-input"), ",  max z = ", num(m)),
        eq(`e^(z − max) = `, num(Math.exp(z - m)), ` / Σ e^(z_j − max) = `, num(s, "unit-sum"), " → ", num(Math.exp(z - m) / s, "unit-total")),
        eq(`${T("value")}: `, num(y)));
    },
    batchnorm(layer, k, x, xshape, idx, flat, y) {
      const d = layer.details, c = idx[0];
      const mu = arr(d.mean)[c], v = arr(d.var)[c], g = arr(d.gamma)[c], b = arr(d.beta)[c], z = x[flat];
      const total = (g * (z - mu)) / Math.sqrt(v + d.eps) + b;
      return el("div", { class: "unit batchnorm" }, formulaOf(layer),
        eq("x = ", num(z, "unit-input"), ", μ = ", num(mu), ", σ² = ", num(v), `, ε = ${d.eps}, γ = `, num(g), ", β = ", num(b)),
        eq(`${fmt(g)} · (${fmt(z)} − ${fmt(mu)}) / √(${fmt(v)} + ${d.eps}) + ${fmt(b)} = `, num(total, "unit-total")),
        eq(`${T("value")}: `, num(y)));
    },
    flatten(layer, k, x, xshape, idx, flat, y) {
      return el("div", { class: "unit flatten" }, formulaOf(layer),
        eq(`y[${flat}] = x[${unravel(flat, xshape).join(",")}] = `, num(x[flat], "unit-total")), eq(`${T("value")}: `, num(y)));
    },
    dropout(layer, k, x, xshape, idx, flat, y) {
      return el("div", { class: "unit dropout" }, formulaOf(layer),
        eq(`${T("identity")}: y = x = `, num(x[flat], "unit-total")), eq(`${T("value")}: `, num(y)));
    },
    residual(layer, k, x, xshape, idx, flat, y) {
      const d = layer.details, body = arr(d.body)[flat], shortcut = arr(d.shortcut)[flat];
      const path = (names) => names.join(" → ");
      return el("div", { class: "unit residual" }, formulaOf(layer),
        eq(`${T("body")} (${path(d.body_layers)}) = `, num(body, "unit-body")),
        eq(`${d.identity ? T("identity_shortcut") + ": x" : T("shortcut") + " (" + path(d.shortcut_layers) + ")"} = `,
          num(shortcut, "unit-shortcut")),
        eq(`${fmt(body)} + ${fmt(shortcut)} = `, num(body + shortcut, "unit-total")), eq(`${T("value")}: `, num(y)));
    },
  };

  function pool(layer, x, xshape, idx, y, isMax) {
    const [kh, kw] = layer.details.kernel, [sh, sw] = layer.details.stride;
    const [, H, W] = as3d(xshape), [c, i, j] = idx.length === 3 ? idx : [idx[0], 0, idx[1]];
    const xv = (a, b) => x[(c * H + i * sh + a) * W + j * sw + b];
    let best = -Infinity, win = null, s = 0;
    for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) {
      const v = xv(a, b);
      s += v;
      if (v > best) { best = v; win = [a, b]; }
    }
    const total = isMax ? best : s / (kh * kw);
    return el("div", { class: "unit pool" }, formulaOf(layer),
      el("h3", { text: T("window") }), grid(kh, kw, xv, (a, b) => (isMax && a === win[0] && b === win[1] ? "winner" : "")),
      isMax ? eq(`${T("winner")}: max = `, num(total, "unit-total"))
        : eq(`${T("sum")} `, num(s, "unit-sum"), ` / ${kh * kw} = `, num(total, "unit-total")),
      eq(`${T("value")}: `, num(y)));
  }

  // ------------------------------------------------------------------ controls
  document.getElementById("target-select").addEventListener("change", (e) => {
    state.target = Number(e.target.value);
    render();
  });
  document.getElementById("lang-switch").addEventListener("click", () => {
    state.lang = state.lang === "en" ? "zh" : "en";
    render();
  });
  render();
  document.body.dataset.ready = "true";
})();
