/** Raw-argument checks yargs cannot make once it has combined repeated values. */

/** Long flags given more than once (`--seq 32 --seq 1`), by name; `--x` and `--no-x` count as the same flag. */
export function repeatedFlags(argv: readonly string[]): string[] {
  const seen = new Map<string, number>();
  for (const a of argv) {
    if (a === '--') break;
    const m = /^--(?:no-)?([^=]+)/.exec(a);
    if (m) seen.set(m[1], (seen.get(m[1]) ?? 0) + 1);
  }
  return [...seen].filter(([, n]) => n > 1).map(([k]) => k);
}

/** `grad-accum` -> `gradAccum`, as yargs names the camel-case alias. */
export const camelFlag = (k: string): string => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
