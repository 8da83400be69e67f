// run_onnx.js — runs an ONNX file with ONNX Runtime (npm onnxruntime-node) on the inputs of a safetensors
// batch (loom.export_batch: the graph inputs under their names, and loom's outputs) and prints one JSON
// line: for each ONNX output that the batch also holds, its shape and the largest absolute and relative
// differences from loom's (relative: |onnx - loom| / max(|loom|, 1)); the outputs loom does not store (score = sigmoid(logits), probs = softmax(logits)) are compared with those of loom's logits.
// --values adds each compared output's values.
// Usage: node run_onnx.js MODULE_DIR MODEL.onnx BATCH.safetensors [--values]   (used by tests/test_onnx.py)
'use strict';
const fs = require('fs');
const path = require('path');

const [moduleDir, modelPath, batchPath, ...rest] = process.argv.slice(2);
const ort = require(path.resolve(moduleDir, 'onnxruntime-node'));

function readSafetensors(file) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const base = 8 + n, out = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [a, b] = t.data_offsets;
    const bytes = buf.subarray(base + a, base + b);
    const copy = new ArrayBuffer(bytes.length);
    new Uint8Array(copy).set(bytes);
    if (t.dtype === 'F32') out[name] = { type: 'float32', data: new Float32Array(copy), dims: t.shape };
    else if (t.dtype === 'I32') out[name] = { type: 'int32', data: new Int32Array(copy), dims: t.shape };
    else throw new Error(`${file}: tensor ${name} has dtype ${t.dtype}`);
  }
  return out;
}

function derived(name, loom) { // loom's score / probs from its logits, in double precision
  const l = loom.logits;
  if (!l) return null;
  if (name === 'score') return { dims: l.dims, data: Float64Array.from(l.data, (x) => 1 / (1 + Math.exp(-x))) };
  if (name === 'probs') {
    const K = l.dims[l.dims.length - 1], out = new Float64Array(l.data.length);
    for (let r = 0; r < l.data.length / K; r++) {
      let m = -Infinity, s = 0;
      for (let k = 0; k < K; k++) m = Math.max(m, l.data[r * K + k]);
      for (let k = 0; k < K; k++) s += Math.exp(l.data[r * K + k] - m);
      for (let k = 0; k < K; k++) out[r * K + k] = Math.exp(l.data[r * K + k] - m) / s;
    }
    return { dims: l.dims, data: out };
  }
  return null;
}

async function main() {
  const batch = readSafetensors(batchPath);
  const session = await ort.InferenceSession.create(modelPath);
  const feeds = {};
  for (const name of session.inputNames) {
    const t = batch[name];
    if (!t) throw new Error(`${batchPath} has no input '${name}' the ONNX model reads`);
    feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
  }
  const res = await session.run(feeds);
  const report = { inputs: session.inputNames, outputs: {} };
  for (const name of session.outputNames) {
    const got = res[name];
    const want = batch[name] || derived(name, batch);
    if (!want) continue;
    if (got.dims.join(',') !== want.dims.join(',')) {
      report.outputs[name] = { error: `shape ${got.dims} vs loom ${want.dims}` };
      continue;
    }
    let abs = 0, rel = 0;
    for (let i = 0; i < want.data.length; i++) {
      const d = Math.abs(got.data[i] - want.data[i]);
      if (!(d <= abs)) abs = d; // NaN sticks
      const r = d / Math.max(Math.abs(want.data[i]), 1);
      if (!(r <= rel)) rel = r;
    }
    report.outputs[name] = { dims: got.dims, max_abs: abs, max_rel: rel };
    if (rest.includes('--values')) report.outputs[name].values = Array.from(got.data);
  }
  console.log(JSON.stringify(report));
}
main().catch((e) => { console.error(`run_onnx.js: ${e.message}`); process.exit(1); });
