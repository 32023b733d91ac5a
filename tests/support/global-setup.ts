// Once per vitest run: empty the folder where platform processes' logs are kept, so the
// privacy scan at the end (tests/privacy/) reads this run's logs only.
import { rmSync, mkdirSync } from 'node:fs';
import { LOG_DIR } from './platform.ts';

export default function setup(): void {
  rmSync(LOG_DIR, { recursive: true, force: true });
  mkdirSync(LOG_DIR, { recursive: true });
}
