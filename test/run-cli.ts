// Runs the CLI (bin/electra-native.js) in a child process, as a user would.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

export const root = path.resolve(__dirname, '..');
export const bin = path.join(root, 'bin', 'electra-native.js');

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60000,
  });
}
