// ONNX Runtime in a child process (tools/ort/ort.py drives it for the
// benchmark and for the tests that compare against ORT): reads one JSON command
// per line on stdin and answers one JSON line on stdout, so that a driver can
// alternate between bnfold and ORT in one invocation. Commands:
//   {"cmd": "load", "path": P, "level": "all"|"disabled", "threads": T}
//       -> {"id": K, "create_ms": ms, "input": name, "dims": [...]}
//   {"cmd": "time", "id": K, "batch": B, "seconds": S, "warmup": W}
//       -> {"ms": [per-run milliseconds]}
//   {"cmd": "run", "id": K, "inputs": {NAME: IN.npy, ...}, "out_dir": D}
//       -> {"outputs": {NAME: D/NAME.npy, ...}}   (every output, float32 or int64)
//   {"cmd": "rss"} -> {"max_rss_bytes": peak resident set size of this process}
// Usage: node ort_server.js NODE_MODULES_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const ort = require(path.join(process.argv[2], 'onnxruntime-node'));
const sessions = [];

// A .npy reader for C-order float32 and int64 arrays and a writer for those and
// the int8/uint8/int32/bool outputs of quantized or logic ops (10-byte
// preamble, header length at byte 8).
const NPY_TYPES = {'<f4': ['float32', Float32Array], '<i8': ['int64', BigInt64Array]};
const NPY_OUT = [[Float32Array, '<f4'], [BigInt64Array, '<i8'], [Int8Array, '|i1'], [Uint8Array, '|u1'],
                 [Int32Array, '<i4']];

function readNpy(file) {
  const buf = fs.readFileSync(file);
  const headerLen = buf.readUInt16LE(8);
  const header = buf.toString('latin1', 10, 10 + headerLen);
  const descr = (header.match(/'descr':\s*'([^']*)'/) || [])[1];
  if (!(descr in NPY_TYPES) || header.includes("'fortran_order': True")) {
    throw new Error(`${file}: not a C-order float32 or int64 array`);
  }
  const [type, Array] = NPY_TYPES[descr];
  const dims = header.match(/\(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const bytes = buf.buffer.slice(buf.byteOffset + 10 + headerLen, buf.byteOffset + buf.length);
  return {type, dims, data: new Array(bytes)};
}

function writeNpy(file, dims, data) {
  const kind = NPY_OUT.find(([Type]) => data instanceof Type);
  if (!kind) throw new Error(`${file}: only float32, int64, int32, int8 and uint8 outputs are written`);
  const descr = kind[1];
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims.join(', ')}${dims.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
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
    const dims = [cmd.batch, ...cmd.sample_dims];
    const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', randomInput(dims), dims)};
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
      outputs[name] = path.join(cmd.out_dir, name.replace(/[^A-Za-z0-9_.-]/g, '_') + '.npy');
      writeNpy(outputs[name], out[name].dims, out[name].data);
    }
    return {outputs};
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
