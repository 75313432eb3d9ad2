'use strict';
/**
 * Experiment outputs: a markdown table, an SVG figure, an HTML page, and the
 * section of EXPERIMENTS.md between `<!-- NAME:begin -->` and
 * `<!-- NAME:end -->` (replaced in place, so a re-run updates the document).
 */
const fs = require('fs');
const path = require('path');
const { ROOT } = require('./runs');

function writeAtomic(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file + '.tmp', text);
  fs.renameSync(file + '.tmp', file);
}

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** rows: array of arrays of cells; header: array of names. */
function markdownTable(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n') + '\n';
}

function htmlPage(title, sections) {
  const body = sections.map((s) => (s.svg ? s.svg : s.html ?? `<pre>${esc(s.text)}</pre>`)).join('\n');
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${esc(title)}</title>\n<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head>\n<body><h1>${esc(title)}</h1>\n${body}\n</body></html>\n`;
}

/** Markdown table -> HTML table (the simple tables markdownTable writes). */
function markdownToHtmlTable(md) {
  const rows = md.trim().split('\n').filter((l, i) => i !== 1).map((l) => l.replace(/^\| | \|$/g, '').split(' | '));
  const [head, ...rest] = rows;
  return `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>\n${rest.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n')}</table>`;
}

/** Replaces (or appends) the NAME section of EXPERIMENTS.md. */
function updateDoc(name, markdown, docFile = path.join(ROOT, 'EXPERIMENTS.md')) {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${begin}\n${markdown.trim()}\n${end}`;
  let doc = fs.existsSync(docFile) ? fs.readFileSync(docFile, 'utf8') : '# Experiments\n';
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) doc = doc.slice(0, i) + block + doc.slice(j + end.length);
  else doc = doc.trimEnd() + '\n\n' + block + '\n';
  writeAtomic(docFile, doc);
}

module.exports = { writeAtomic, markdownTable, htmlPage, markdownToHtmlTable, updateDoc };
