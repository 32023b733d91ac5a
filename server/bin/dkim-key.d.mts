// Types of dkim-key.mjs (plain JavaScript: it runs from server/bin/chorus.mjs before any TypeScript does).
export declare const DEFAULT_DKIM_SELECTOR: string;
export declare const DKIM_KEY_BITS: number;
export declare function dkimKeyFile(dataDir: string, selector: string): string;
export declare function generateDkimKey(): string;
export declare function ensureDkimKey(dataDir: string, selector: string): { pem: string; file: string; generated: boolean };
