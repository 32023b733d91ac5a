#!/usr/bin/env node
// Runs a command (nginx) as a child and ends it when the process that started this one is gone,
// however that ended: a test run or an `npm start` killed outright would otherwise leave nginx
// holding its port. SIGTERM and SIGQUIT are passed on; this process ends with the child.
// Usage: node supervise.mjs <command> [args...]
import { spawn } from 'node:child_process';

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: supervise.mjs <command> [args...]');
  process.exit(2);
}
const parent = process.ppid;
const child = spawn(cmd, args, { stdio: 'inherit' });
for (const signal of ['SIGTERM', 'SIGQUIT', 'SIGINT']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
child.on('error', (err) => {
  console.error(`${cmd}: ${err.message}`);
  process.exit(1);
});
setInterval(() => {
  // re-parented: the starter is gone
  if (process.ppid !== parent) child.kill('SIGTERM');
}, 500);
