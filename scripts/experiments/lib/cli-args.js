'use strict';
/** A small flag parser for the experiment scripts (--name value, --flag). */
function parseArgs(argv, spec) {
  const out = {};
  for (const [k, v] of Object.entries(spec)) out[k] = v.default;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return { help: true };
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unexpected argument '${a}'`);
    const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const s = spec[key];
    if (!s) throw new Error(`unknown option --${m[1]} (known: ${Object.keys(spec).map((k) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())).join(', ')})`);
    if (s.type === 'boolean') { out[key] = m[2] === undefined ? true : m[2] !== 'false'; continue; }
    const raw = m[2] ?? argv[++i];
    if (raw === undefined) throw new Error(`--${m[1]} needs a value`);
    if (s.type === 'number') {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new Error(`--${m[1]} must be a number, got '${raw}'`);
      out[key] = n;
    } else if (s.type === 'list') {
      out[key] = raw.split(',').map((x) => Number(x));
      if (out[key].some((x) => !Number.isFinite(x))) throw new Error(`--${m[1]} must be comma-separated numbers, got '${raw}'`);
    } else out[key] = raw;
  }
  return out;
}

function usage(name, summary, spec) {
  const lines = [`usage: ${name} [options]`, '', summary, '', 'options:'];
  for (const [k, s] of Object.entries(spec)) {
    const flag = '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
    lines.push(`  ${flag.padEnd(22)} ${s.describe}${s.default !== undefined ? ` (default: ${Array.isArray(s.default) ? s.default.join(',') : s.default})` : ''}`);
  }
  return lines.join('\n') + '\n';
}

module.exports = { parseArgs, usage };
