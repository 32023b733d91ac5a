// The console's language: the one staff chose with the switch in the console's header, kept in a
// cookie for the console's pages only (path /admin), else the browser's languages.
export const CONSOLE_LOCALE_COOKIE = 'chorus_console_locale';

/** Whether a path is one of the console's (the sign-in page included). */
export function isConsolePath(pathname: string): boolean {
	return pathname === '/admin' || pathname.startsWith('/admin/');
}

/** Where to go back to after switching: a console page of this site, else the console's start. */
export function consoleReturnPath(value: unknown): string {
	if (typeof value !== 'string' || !value.startsWith('/admin') || value.startsWith('//') || /[\\\r\n]/.test(value)) return '/admin';
	const path = value.split(/[?#]/)[0]!;
	return isConsolePath(path) ? value : '/admin';
}
