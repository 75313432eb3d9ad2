/**
 * Rows of delimited text files, each with the line it starts on:
 *  - TSV as GLUE writes it: split on tabs, no quoting at all (the GLUE files
 *    are read with Python's csv.QUOTE_NONE; a `"` is an ordinary character);
 *  - CSV as RFC 4180: comma-separated, a field in double quotes may hold
 *    commas, newlines and doubled quotes `""`. A quote inside an unquoted
 *    field is kept literally (as Python's csv module does).
 * Every row is kept, blank ones included: a reader that expects several
 * columns reports a blank line as a ragged row instead of skipping it.
 */
import { dataError, splitLines } from './text';

/** One row of a delimited file. */
export interface Row {
  /** The 1-based line the row starts on. */
  line: number;
  fields: string[];
}

/** Splits GLUE-style TSV text into rows (no quoting). */
export function parseTsv(text: string): Row[] {
  return splitLines(text).map((l, i) => ({ line: i + 1, fields: l.split('\t') }));
}

/** Parses RFC 4180 CSV text; an unterminated quoted field or text after a closing quote is an error naming `file`. */
export function parseCsv(text: string, file: string): Row[] {
  const rows: Row[] = [];
  const n = text.length;
  let i = 0;
  let line = 1;
  let lineStart = 0;
  while (i < n) {
    const rowLine = line;
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text.charCodeAt(i) === 0x22 /* " */) {
        const openLine = line;
        const openCol = i - lineStart + 1;
        i++;
        for (;;) {
          if (i >= n) throw dataError(file, { line: openLine, column: openCol }, 'unterminated quoted field');
          const c = text.charCodeAt(i);
          if (c === 0x22) {
            if (text.charCodeAt(i + 1) === 0x22) {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === 0x0a) {
            line++;
            lineStart = i + 1;
          }
          field += text[i];
          i++;
        }
        const c = i < n ? text.charCodeAt(i) : -1;
        const crlf = c === 0x0d && text.charCodeAt(i + 1) === 0x0a;
        if (c !== -1 && c !== 0x2c && c !== 0x0a && !crlf) {
          throw dataError(file, { line, column: i - lineStart + 1 }, 'unexpected text after a closing quote');
        }
      } else {
        let j = i;
        while (j < n) {
          const c = text.charCodeAt(j);
          if (c === 0x2c || c === 0x0a) break;
          j++;
        }
        field = text.slice(i, j);
        if (field.endsWith('\r') && (j >= n || text.charCodeAt(j) === 0x0a)) field = field.slice(0, -1);
        i = j;
      }
      fields.push(field);
      if (i < n && text.charCodeAt(i) === 0x2c) {
        i++;
        if (i >= n) {
          fields.push(''); // "a,b," at the very end: a last empty field
          break;
        }
        continue;
      }
      // End of the row: \n, \r\n or the end of the text.
      if (i < n && text.charCodeAt(i) === 0x0d) i++;
      if (i < n && text.charCodeAt(i) === 0x0a) {
        i++;
        line++;
        lineStart = i;
      }
      break;
    }
    rows.push({ line: rowLine, fields });
  }
  return rows;
}

/**
 * A header row's column names to indices; a duplicated name is an error
 * (a lookup by name would be ambiguous).
 */
export function headerIndex(header: Row, file: string): Map<string, number> {
  const m = new Map<string, number>();
  header.fields.forEach((name, k) => {
    if (m.has(name)) {
      throw dataError(file, { line: header.line, column: k + 1 }, `column name '${name}' appears twice in the header`);
    }
    m.set(name, k);
  });
  return m;
}

/** Throws when a row does not have `expected` fields (ragged rows are never padded or cut). */
export function checkWidth(row: Row, expected: number, file: string, what: string): void {
  if (row.fields.length !== expected) {
    throw dataError(
      file,
      { line: row.line, column: Math.min(row.fields.length, expected) + 1 },
      `ragged row: ${row.fields.length} column${row.fields.length === 1 ? '' : 's'}, ${what} has ${expected}`,
    );
  }
}
