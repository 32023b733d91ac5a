// Types of build-server.mjs (plain JavaScript: it runs from server/bin/chorus.mjs before any TypeScript does).
export declare const SERVER_BUILD: string;
export declare function buildServer(): Promise<string>;
export declare const SERVER_NODE_FLAGS: string[];
