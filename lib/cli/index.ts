/**
 * The electra-native command line (yargs, strict): one module per command in
 * ./commands. Commands hold no training or op logic of their own.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';

import * as bench from './commands/bench';
import * as buildDataset from './commands/build-dataset';
import * as demo from './commands/demo';
import * as detect from './commands/detect';
import * as evalSuite from './commands/eval-suite';
import * as exportCmd from './commands/export';
import * as evaluate from './commands/evaluate';
import * as finetune from './commands/finetune';
import * as info from './commands/info';
import * as predict from './commands/predict';
import * as tokenize from './commands/tokenize';
import * as train from './commands/train';
import * as vocab from './commands/vocab';
import { camelFlag, repeatedFlags } from './repeated-flags';

export async function main(argv: string[] = hideBin(process.argv)): Promise<void> {
  const repeated = repeatedFlags(argv);
  await yargs(argv)
    .scriptName('electra-native')
    .usage('$0 <command> [options]')
    .command(train)
    .command(finetune)
    .command(evaluate)
    .command(predict)
    .command(evalSuite)
    .command(vocab)
    .command(buildDataset)
    .command(exportCmd)
    .command(detect)
    .command(tokenize)
    .command(info)
    .command(bench)
    .command(demo)
    .demandCommand(1, 'Give a command; see --help.')
    .strict()
    // A scalar flag given twice is ambiguous (yargs would combine the values): refused, naming it.
    .check((_args, opts: { array?: string[] }) => {
      const arrays = new Set(opts.array ?? []);
      const bad = repeated.filter((k) => !arrays.has(k) && !arrays.has(camelFlag(k)));
      if (bad.length > 0) throw new Error(`${bad.map((k) => `--${k}`).join(', ')} given more than once; give each option once`);
      return true;
    }, true)
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(null)
    .fail((msg, err) => {
      if (err) throw err;
      process.stderr.write(`electra-native: ${msg}\nRun \`electra-native --help\` for usage.\n`);
      process.exit(1);
    })
    .parseAsync();
}

if (require.main === module) {
  main().catch((err: unknown) => {
    const e = err as { code?: string; message?: string };
    process.stderr.write(`electra-native: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`);
    process.exit(1);
  });
}
