// ONNX Runtime in a child process (tools/ort/ort.py drives it for the
// benchmark and for the tests that compare against ORT): reads one JSON command
// per line on stdin and answers one JSON line on stdout, so that a driver can
// alternate between bnfold and ORT in one invocation. Commands:
//   {"cmd": "load", "path": P, "level": "all"|"disabled", "threads": T}
//       -> {"id": K, "create_ms": ms, "input": name, "dims": [...]}
//   {"cmd": "time", "id": K, "batch": B, "seconds": S, "warmup": W}
//       -> {"ms": [per-run milliseconds]}
//   {"cmd": "run", "id": K, "inputs": {NAME: IN.npy, ...}, "out_dir": D}
//       -> {"outputs": {NAME: D/NAME.npy, ...}}   (every output; strings as NAME.json)
//   {"cmd": "profile", "path": P, "threads": T, "batch": B, "sample_dims": [...], "runs": N, "warmup": W,
//    "dir": D}
//       -> {"file": ORT's profile (chrome trace JSON) of W + N runs of a fresh session with all
//           optimizations, in D; "create_ms": ms}
//   {"cmd": "rss"} -> {"max_rss_bytes": peak resident set size of this process}
// Usage: node ort_server.js NODE_MODULES_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const ort = require(path.join(process.argv[2], 'onnxruntime-node'));
const sessions = [];

// A .npy reader and writer for C-order arrays of every numeric type ONNX
// Runtime's JavaScript tensors hold (bool as '|b1', float16 as its bits), and
// a JSON form for string tensors ({"dims": [...], "data": [...]}, file name
// ending in .json). 10-byte preamble, header length at byte 8.
const NPY = [
  ['<f4', 'float32', Float32Array], ['<f8', 'float64', Float64Array], ['|i1', 'int8', Int8Array],
  ['|u1', 'uint8', Uint8Array], ['<i2', 'int16', Int16Array], ['<u2', 'uint16', Uint16Array],
  ['<i4', 'int32', Int32Array], ['<u4', 'uint32', Uint32Array], ['<i8', 'int64', BigInt64Array],
  ['<u8', 'uint64', BigUint64Array], ['|b1', 'bool', Uint8Array], ['<f2', 'float16', Uint16Array],
];

function readNpy(file) {
  if (file.endsWith('.json')) {
    const j = JSON.parse(fs.readFileSync(file, 'utf8'));
    return {type: 'string', dims: j.dims, data: j.data};
  }
  const buf = fs.readFileSync(file);
  const headerLen = buf.readUInt16LE(8);
  const header = buf.toString('latin1', 10, 10 + headerLen);
  const descr = (header.match(/'descr':\s*'([^']*)'/) || [])[1];
  const kind = NPY.find(([d]) => d === descr);
  if (!kind || header.includes("'fortran_order': True")) {
    throw new Error(`${file}: not a C-order array of a type ONNX Runtime takes (${descr})`);
  }
  const [, type, Array] = kind;
  const dims = header.match(/\(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const bytes = buf.buffer.slice(buf.byteOffset + 10 + headerLen, buf.byteOffset + buf.length);
  return {type, dims, data: new Array(bytes)};
}

// Writes FILE.npy (or FILE.json for strings); returns the name written.
function writeTensor(file, tensor) {
  if (tensor.type === 'string') {
    fs.writeFileSync(file + '.json', JSON.stringify({dims: tensor.dims, data: Array.from(tensor.data)}));
    return file + '.json';
  }
  const kind = NPY.find(([, type]) => type === tensor.type);
  if (!kind) throw new Error(`${file}: ONNX Runtime returned a ${tensor.type} tensor, which is not written`);
  const dims = tensor.dims;
  const data = tensor.data;
  let header = `{'descr': '${kind[0]}', 'fortran_order': False, 'shape': (${dims.join(', ')}${dims.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file + '.npy', Buffer.concat([pre, Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
  return file + '.npy';
}

// Random N(0,1)-like inputs (uniform sum of 4, scaled): the values do not change the timing.
function randomInput(dims) {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; ++i) {
    let acc = 0;
    for (let k = 0; k < 4; ++k) {
      s = (s * 1103515245 + 12345) % 2147483648;
      acc += s / 2147483648;
    }
    data[i] = (acc - 2) * 1.732;
  }
  return data;
}

async function handle(cmd) {
  if (cmd.cmd === 'load') {
    const t0 = process.hrtime.bigint();
    const session = await ort.InferenceSession.create(cmd.path, {
      graphOptimizationLevel: cmd.level || 'all',
      intraOpNumThreads: cmd.threads || 2,
      interOpNumThreads: 1,
      executionMode: 'sequential',
    });
    const createMs = Number(process.hrtime.bigint() - t0) / 1e6;
    sessions.push(session);
    return {id: sessions.length - 1, create_ms: createMs, input: session.inputNames[0], inputs: session.inputNames,
          outputs: session.outputNames};
  }
  if (cmd.cmd === 'time') {
    const session = sessions[cmd.id];
    // Given inputs (name -> .npy file) where the work depends on the values
    // (a detector's NMS); else a random float32 batch of the first input.
    const feeds = {};
    if (cmd.inputs) {
      for (const [name, file] of Object.entries(cmd.inputs)) {
        const x = readNpy(file);
        feeds[name] = new ort.Tensor(x.type, x.data, x.dims);
      }
    } else {
      const dims = [cmd.batch, ...cmd.sample_dims];
      feeds[session.inputNames[0]] = new ort.Tensor('float32', randomInput(dims), dims);
    }
    for (let i = 0; i < (cmd.warmup ?? 2); ++i) await session.run(feeds);
    const ms = [];
    const start = process.hrtime.bigint();
    while (ms.length < (cmd.min_runs ?? 3) || Number(process.hrtime.bigint() - start) / 1e9 < cmd.seconds) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return {ms};
  }
  if (cmd.cmd === 'run') {
    const session = sessions[cmd.id];
    const feeds = {};
    for (const [name, file] of Object.entries(cmd.inputs)) {
      const x = readNpy(file);
      feeds[name] = new ort.Tensor(x.type, x.data, x.dims);
    }
    const out = await session.run(feeds);
    const outputs = {};
    for (const name of session.outputNames) {
      outputs[name] = writeTensor(path.join(cmd.out_dir, name.replace(/[^A-Za-z0-9_.-]/g, '_')), out[name]);
    }
    return {outputs};
  }
  if (cmd.cmd === 'profile') {
    // A session of its own: ORT profiles every run of a session from its creation on.
    const prefix = path.join(cmd.dir, 'ort_profile');
    const t0 = process.hrtime.bigint();
    const session = await ort.InferenceSession.create(cmd.path, {
      graphOptimizationLevel: 'all',
      intraOpNumThreads: cmd.threads || 2,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      enableProfiling: true,
      profileFilePrefix: prefix,
    });
    const createMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const dims = [cmd.batch, ...cmd.sample_dims];
    const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', randomInput(dims), dims)};
    for (let i = 0; i < (cmd.warmup ?? 3) + cmd.runs; ++i) await session.run(feeds);
    await session.endProfiling();
    await session.release();
    const files = fs.readdirSync(cmd.dir).filter((f) => f.startsWith('ort_profile') && f.endsWith('.json'));
    if (files.length !== 1) throw new Error(`expected one ORT profile in ${cmd.dir}, found ${files.length}`);
    return {file: path.join(cmd.dir, files[0]), create_ms: createMs};
  }
  if (cmd.cmd === 'rss') {
    // VmHWM: this program's own peak (maxRSS would count the parent's peak from before exec).
    const m = fs.readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\s*(\d+) kB/);
    return {max_rss_bytes: (m ? Number(m[1]) : process.resourceUsage().maxRSS) * 1024};
  }
  throw new Error(`unknown command ${cmd.cmd}`);
}

const rl = readline.createInterface({input: process.stdin});
let queue = Promise.resolve();
rl.on('line', (line) => {
  queue = queue.then(async () => {
    let reply;
    try {
      reply = await handle(JSON.parse(line));
    } catch (e) {
      reply = {error: String(e && e.message ? e.message : e)};
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
  });
});
rl.on('close', () => queue.then(() => process.exit(0)));
