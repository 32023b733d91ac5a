// The DNS records that let receivers trust the platform's mail, for MAIL_FROM's domain: SPF (which
// servers may send for it; the return paths bounces+…@ are of that domain too), the DKIM key's
// record (dkim.ts) and DMARC (what receivers do with mail that fails both, and that DKIM's
// domain must be the From's: it is). `npm run dns` prints them in zone-file form; with --check
// it looks them up and says what is missing or wrong (server/bin/dns.ts).
import { dkimRecordText } from './dkim.ts';

export type RecordKind = 'SPF' | 'DKIM' | 'DMARC';

export interface MailRecord {
  kind: RecordKind;
  /** the owner name, without the trailing dot */
  name: string;
  text: string;
  /** zone-file comment lines (without the `;`) saying what the record is for */
  about: string[];
}

export const RECORD_TTL = 3600;

export function mailRecords(opts: { domain: string; selector: string; privateKey: string }): MailRecord[] {
  const domain = opts.domain.toLowerCase();
  return [
    {
      kind: 'SPF',
      name: domain,
      text: 'v=spf1 mx ~all',
      about: [
        `SPF: the servers that may send mail for ${domain}. "mx" names the domain's own mail servers;`,
        `if the relay in SMTP_URL is not one of them, add it (ip4:<its address>, or the include: its provider gives).`,
        `A domain has one SPF record: if ${domain} has one already, keep it and make sure it names that relay.`,
      ],
    },
    {
      kind: 'DKIM',
      name: `${opts.selector}._domainkey.${domain}`,
      text: dkimRecordText(opts.privateKey),
      about: [`DKIM: the public half of the key that signs every email (selector ${opts.selector}).`],
    },
    {
      kind: 'DMARC',
      name: `_dmarc.${domain}`,
      text: 'v=DMARC1; p=none; adkim=r; aspf=r',
      about: [
        `DMARC: Chorus's mail passes it (DKIM signed for ${domain}, return paths in ${domain}). p=none asks receivers`,
        `to deliver mail that fails; once everything sent as ${domain} passes, p=quarantine. Add rua=mailto:<address> for reports.`,
        `A domain has one DMARC record: if ${domain} has one already, keep it.`,
      ],
    },
  ];
}

/** A TXT record's text as zone-file character strings: quoted, at most 255 bytes each (RFC 1035). */
export function txtStrings(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += 255) out.push(`"${text.slice(i, i + 255).replace(/["\\]/g, '\\$&')}"`);
  return out;
}

/** The records as a zone-file fragment: absolute names, one record a line, comments above each. */
export function zoneFile(records: MailRecord[], header: string[] = []): string {
  const lines = header.map((l) => `; ${l}`);
  for (const r of records) {
    if (lines.length) lines.push('');
    lines.push(...r.about.map((l) => `; ${l}`));
    lines.push(`${r.name}.\t${RECORD_TTL}\tIN\tTXT\t${txtStrings(r.text).join(' ')}`);
  }
  return `${lines.join('\n')}\n`;
}

export type FindingStatus = 'ok' | 'missing' | 'wrong' | 'unknown';

export interface Finding {
  kind: RecordKind;
  name: string;
  status: FindingStatus;
  detail: string;
}

/** Looks up the TXT records of a name: the strings of each record, as node's dns resolveTxt answers. */
export type ResolveTxt = (name: string) => Promise<string[][]>;

/** The tags of a DKIM or DMARC record (`k=v; k=v`), names lowercased, whitespace in values kept. */
function tags(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return out;
}

async function lookUp(resolve: ResolveTxt, name: string): Promise<string[] | { error: string }> {
  try {
    // a record's strings are one text, joined without spaces (RFC 7208 3.3, RFC 6376 3.6.2.2)
    return (await resolve(name)).map((strings) => strings.join(''));
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return [];
    return { error: `could not be looked up (${code ?? (err instanceof Error ? err.message : String(err))})` };
  }
}

function checkSpf(found: string[]): Pick<Finding, 'status' | 'detail'> {
  const spf = found.filter((t) => /^v=spf1(\s|$)/i.test(t));
  if (spf.length === 0) return { status: 'missing', detail: 'no SPF record (v=spf1)' };
  if (spf.length > 1) return { status: 'wrong', detail: `${spf.length} SPF records: receivers treat more than one as an error; merge them into one` };
  const terms = spf[0]!.split(/\s+/).slice(1);
  const all = terms.find((t) => /^[+?~-]?all$/i.test(t));
  if (all && /^[+?]?all$/i.test(all)) return { status: 'wrong', detail: `"${spf[0]}" lets any server send as the domain (${all}); end it with ~all or -all` };
  if (!all && !terms.some((t) => /^redirect=/i.test(t))) return { status: 'wrong', detail: `"${spf[0]}" has no ~all or -all at the end` };
  return { status: 'ok', detail: `"${spf[0]}" (whether it names the SMTP relay is not checked)` };
}

function checkDkim(found: string[], expected: MailRecord): Pick<Finding, 'status' | 'detail'> {
  const keys = found.filter((t) => tags(t).has('p'));
  if (keys.length === 0) return { status: 'missing', detail: found.length ? 'a TXT record without a key (p=)' : 'no DKIM record' };
  if (keys.length > 1) return { status: 'wrong', detail: `${keys.length} key records: receivers cannot tell which is meant; keep the one \`npm run dns\` prints` };
  const t = tags(keys[0]!);
  const want = tags(expected.text).get('p')!;
  const p = t.get('p')!.replace(/\s+/g, '');
  if (t.has('v') && t.get('v') !== 'DKIM1') return { status: 'wrong', detail: `v=${t.get('v')}: must be v=DKIM1` };
  if (t.has('k') && t.get('k')!.toLowerCase() !== 'rsa') return { status: 'wrong', detail: `k=${t.get('k')}: the key is RSA (k=rsa)` };
  if (p === '') return { status: 'wrong', detail: 'the key is revoked (empty p=)' };
  if (p !== want) return { status: 'wrong', detail: 'publishes another key (its p= is not the public half of the signing key)' };
  return { status: 'ok', detail: 'publishes the signing key' };
}

function checkDmarc(found: string[]): Pick<Finding, 'status' | 'detail'> {
  const dmarc = found.filter((t) => /^v=DMARC1\s*(;|$)/i.test(t));
  if (dmarc.length === 0) return { status: 'missing', detail: 'no DMARC record (v=DMARC1)' };
  if (dmarc.length > 1) return { status: 'wrong', detail: `${dmarc.length} DMARC records: receivers ignore them all; keep one` };
  const policy = tags(dmarc[0]!).get('p')?.toLowerCase();
  if (!policy || !['none', 'quarantine', 'reject'].includes(policy)) return { status: 'wrong', detail: `"${dmarc[0]}" has no valid policy (p=none, quarantine or reject)` };
  return { status: 'ok', detail: `"${dmarc[0]}"` };
}

/** Looks each record up and says whether what is published does what the printed record does. */
export async function checkRecords(records: MailRecord[], resolve: ResolveTxt): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const r of records) {
    const found = await lookUp(resolve, r.name);
    if (!Array.isArray(found)) {
      findings.push({ kind: r.kind, name: r.name, status: 'unknown', detail: found.error });
      continue;
    }
    const verdict = r.kind === 'SPF' ? checkSpf(found) : r.kind === 'DKIM' ? checkDkim(found, r) : checkDmarc(found);
    findings.push({ kind: r.kind, name: r.name, ...verdict });
  }
  return findings;
}
