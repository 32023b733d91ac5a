// Types of build-processes.mjs (plain JavaScript: it runs from server/bin/chorus.mjs before any TypeScript does).
export type ProcessKind = 'server' | 'workers' | 'mailbox';
export declare const PROCESSES: Record<ProcessKind, { entry: string; build: string }>;
export declare const SERVER_BUILD: string;
export declare function buildProcesses(): Promise<Record<ProcessKind, string>>;
export declare function buildServer(): Promise<string>;
export declare const SERVER_NODE_FLAGS: string[];
