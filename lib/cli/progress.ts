/**
 * Training progress on the terminal: a live one-line bar on a TTY, plain
 * periodic lines otherwise (logs, CI, pipes).
 */
import type { StepMetrics } from '../trainer';

export interface ProgressOptions {
  total: number;
  /** Plain-line interval when not a TTY. */
  every: number;
  stream?: NodeJS.WriteStream;
  /** Force the plain format even on a TTY. */
  plain?: boolean;
  /** Formats a step's metrics other than pre-training's (fine-tuning); the bar, step count and eta stay. */
  line?: (m: never) => string;
}

function eta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}` : `${m}:${String(r).padStart(2, '0')}`;
}

export function formatStep(m: StepMetrics, total: number): string {
  return (
    `step ${String(m.step).padStart(String(total).length)}/${total}  loss ${m.loss.toFixed(4)}  gen ${m.genLoss.toFixed(3)} ` +
    `(acc ${(100 * m.genAccuracy).toFixed(1)}%)  disc ${m.discLoss.toFixed(4)} (acc ${(100 * m.discAccuracy).toFixed(1)}%)  ` +
    `lr ${m.lr.toExponential(2)}  ${Math.round(m.tokensPerSecond)} tok/s`
  );
}

export class Progress {
  private readonly tty: boolean;
  private readonly out: NodeJS.WriteStream;
  private readonly started = Date.now();
  private startStep = -1;
  private last = 0;

  constructor(private readonly o: ProgressOptions) {
    this.out = o.stream ?? process.stdout;
    this.tty = !o.plain && Boolean(this.out.isTTY);
  }

  update(m: StepMetrics | { step: number }): void {
    if (this.startStep < 0) this.startStep = m.step - 1;
    const done = m.step - this.startStep;
    const left = this.o.total - m.step;
    const rate = done / ((Date.now() - this.started) / 1000);
    const custom = this.o.line ? (this.o.line as (x: unknown) => string)(m) : undefined;
    if (!this.tty) {
      if (m.step % this.o.every === 0 || m.step === this.o.total) {
        const text = custom !== undefined ? `step ${String(m.step).padStart(String(this.o.total).length)}/${this.o.total}  ${custom}` : formatStep(m as StepMetrics, this.o.total);
        this.out.write(`${text}  eta ${eta(left / rate)}\n`);
      }
      return;
    }
    const now = Date.now();
    if (now - this.last < 100 && m.step !== this.o.total) return; // redraw at most 10x a second
    this.last = now;
    const width = Math.max(10, Math.min(30, (this.out.columns ?? 100) - 100));
    const frac = Math.min(1, m.step / this.o.total);
    const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '░');
    const sm = m as StepMetrics;
    const line = custom !== undefined ? `${bar} ${m.step}/${this.o.total} ${custom} eta ${eta(left / rate)}` :
      `${bar} ${m.step}/${this.o.total} loss ${sm.loss.toFixed(3)} disc acc ${(100 * sm.discAccuracy).toFixed(1)}% ` +
      `gen acc ${(100 * sm.genAccuracy).toFixed(1)}% ${Math.round(sm.tokensPerSecond)} tok/s lr ${sm.lr.toExponential(1)} eta ${eta(left / rate)}`;
    this.out.write(`\r\x1b[K${line.slice(0, (this.out.columns ?? 200) - 1)}`);
  }

  /** Prints a line above the bar (evaluations, checkpoints). */
  note(msg: string): void {
    this.out.write(this.tty ? `\r\x1b[K${msg}\n` : `${msg}\n`);
  }

  done(): void {
    if (this.tty) this.out.write('\n');
  }
}
