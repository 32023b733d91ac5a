// `npm run dns`: prints the DNS records to publish for MAIL_FROM's domain (SPF, the DKIM key's
// record, DMARC) in zone-file form. `npm run dns -- --check` looks them up and says what is
// missing or wrong, and exits 1 if anything is; `--server <address[:port]>` asks that name server
// (the domain's own, say) instead of the system's resolver, so a record just published is seen
// before caches expire.
//
// The key is the one the platform signs with: DKIM_PRIVATE_KEY if set, else the one `npm start`
// keeps in .data/dkim-<DKIM_SELECTOR>.pem, generated here if there is none yet (so the records
// can be published before the first start). MAIL_FROM, DKIM_SELECTOR and DKIM_PRIVATE_KEY are
// read and checked as the processes read them (server/src/config/config.ts).
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadMailConfig } from '../src/config/config.ts';
import { parseDkimPrivateKey } from '../src/mail/dkim.ts';
import { checkRecords, mailRecords, zoneFile } from '../src/mail/dns-records.ts';
import { mailDomain } from '../src/mail/mailer.ts';
import { ensureDkimKey } from './dkim-key.mjs';

const DATA = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.data');

function fail(message: string): never {
  console.error(`chorus dns: ${message}`);
  process.exit(2);
}

function parseArgs(argv: string[]): { check: boolean; servers: string[] } {
  const out = { check: false, servers: [] as string[] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--check') out.check = true;
    else if (a === '--server' || a.startsWith('--server=')) {
      const value = a === '--server' ? argv[++i] : a.slice('--server='.length);
      if (!value) fail('--server needs an address, such as 192.0.2.53 or 127.0.0.1:5353');
      const host = /^\[(.+)\](?::\d+)?$/.exec(value)?.[1] ?? (isIP(value) ? value : value.replace(/:\d+$/, ''));
      if (!isIP(host)) fail(`--server ${value}: give the name server's IP address (and :port if not 53)`);
      out.servers.push(value);
    } else fail(`unknown argument ${a} (use --check, --server <address[:port]>)`);
  }
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let config;
  try {
    config = loadMailConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  let privateKey = config.DKIM_PRIVATE_KEY;
  let source = 'DKIM_PRIVATE_KEY';
  if (!privateKey) {
    const key = ensureDkimKey(DATA, config.DKIM_SELECTOR);
    const parsed = parseDkimPrivateKey(key.pem);
    if ('error' in parsed) fail(`${key.file} ${parsed.error}`);
    privateKey = parsed.pem;
    source = key.file;
    if (key.generated) console.error(`chorus dns: generated a DKIM key (selector ${config.DKIM_SELECTOR}) in ${key.file}; npm start signs with it`);
  }
  const domain = mailDomain(config.MAIL_FROM).toLowerCase();
  const records = mailRecords({ domain, selector: config.DKIM_SELECTOR, privateKey });

  if (!args.check) {
    process.stdout.write(
      zoneFile(records, [
        `DNS records for the mail Chorus sends as ${domain} (MAIL_FROM ${config.MAIL_FROM}).`,
        `DKIM key: selector ${config.DKIM_SELECTOR}, from ${source}.`,
        'Publish them in the zone of the domain; `npm run dns -- --check` then says what is missing or wrong.',
      ]),
    );
    return;
  }

  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  if (args.servers.length) resolver.setServers(args.servers);
  const findings = await checkRecords(records, (name) => resolver.resolveTxt(name));
  for (const f of findings) console.log(`${f.status.padEnd(7)} ${f.kind.padEnd(5)} ${f.name}: ${f.detail}`);
  const bad = findings.filter((f) => f.status !== 'ok');
  if (bad.length) {
    console.log(`\n${bad.length} of ${findings.length} records ${bad.length === 1 ? 'is' : 'are'} not right; \`npm run dns\` prints what to publish.`);
    process.exit(1);
  }
  console.log(`\nAll ${findings.length} records are published for ${domain}.`);
}

main().catch((err) => fail(err instanceof Error ? err.message : String(err)));
