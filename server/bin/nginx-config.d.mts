// Types of nginx-config.mjs (plain JavaScript: the launcher runs it before any TypeScript does).
import type { ChildProcess } from 'node:child_process';

export declare const SITE_TEMPLATE: string;
export declare const STANDALONE_TEMPLATE: string;
export declare const NGINX_BIN: string;
export declare function renderTemplate(text: string, values: Record<string, string | number | boolean | undefined | null>): string;
export interface SiteOptions {
  servers: string[];
  listen: string | number;
  cacheDir: string;
  serverName?: string;
  tls?: { certificate: string; key: string; httpPort?: number; acmeRoot?: string };
  acmeRoot?: string;
  signingConns?: number;
  connsPerAddress?: number;
  cacheStatusHeader?: boolean;
  signRate?: string;
  signBurst?: number;
  realIpFrom?: string;
  innerSocket?: string;
  missRate?: string;
  missBurst?: number;
  locales?: string[];
  errorLog?: string;
}
export declare function chorusLocales(): string[];
/** Other codes browsers send for Chorus's languages (LOCALE_ALIASES in server/src/shared/locales.ts): { tl: 'fil' } */
export declare function chorusLocaleAliases(): Record<string, string>;
export declare function renderSite(o: SiteOptions): string;
export declare function renderStandalone(o: { prefix: string; workerProcesses?: number; accessLog?: string }): string;
export interface RunningNginx {
  url: string;
  dir: string;
  pid: number | undefined;
  process: ChildProcess;
  stop(): Promise<void>;
}
export declare function startNginx(o: {
  nginx?: string;
  dir: string;
  port: number;
  host?: string;
  site: Omit<SiteOptions, 'listen' | 'cacheDir'>;
  workerProcesses?: number;
  accessLog?: string;
  exitWithParent?: boolean;
}): Promise<RunningNginx>;
