// Debian's Chromium, driven by playwright-core. Playwright gives every launch a fresh,
// empty profile directory of its own; the flags keep Chromium off the network.
//
// One Chromium per vitest worker: the files of the platform project share their worker's
// process (vitest.config.ts), so the first file launches it and the next ones reuse it, each
// in contexts of its own (a context is a fresh profile: no cookies, cache or storage shared).
// `close()` of the shared browser does nothing; it is closed when the worker ends.
import { chromium, type Browser, type BrowserContext, type Locator, type Page, type Response as PwResponse } from 'playwright-core';

let shared: Promise<Browser> | null = null;

function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export async function launchChromium(): Promise<Browser> {
  const current = shared ? await shared.catch(() => null) : null;
  if (!current || !current.isConnected()) {
    shared = launch();
    shared.catch(() => (shared = null));
  }
  const browser = await shared!;
  return new Proxy(browser, {
    get(target, prop, receiver) {
      if (prop === 'close') return async () => {};
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Presses a submit button of a page without JavaScript and waits for the new page; its HTTP status. */
export async function submitWithoutJs(page: Page, button: Locator): Promise<number> {
  const statuses: number[] = [];
  const onResponse = (r: PwResponse) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) statuses.push(r.status());
  };
  page.on('response', onResponse);
  const loaded = page.waitForEvent('load');
  await button.click();
  await loaded;
  page.off('response', onResponse);
  return statuses.at(-1) ?? 0;
}

/**
 * The words of the text inside `selector` that the page cuts across two lines although they
 * would fit one (at most `fits` characters): "Fir/ma/s" in a narrowed column. Measured in the
 * page, word by word, with a Range's line boxes (plain JavaScript, as the browser gets it).
 */
export async function wordsCut(page: Page, selector: string, fits = 30): Promise<string[]> {
  return page.evaluate<string[]>(`(() => {
    const cut = [];
    for (const root of document.querySelectorAll(${JSON.stringify(selector)})) {
      const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.textContent || '';
        for (const m of text.matchAll(/[^\\s]+/g)) {
          if (m[0].length > ${fits}) continue;
          const range = document.createRange();
          range.setStart(node, m.index);
          range.setEnd(node, m.index + m[0].length);
          const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
          if (tops.size > 1) cut.push(m[0]);
        }
      }
    }
    return cut;
  })()`);
}

/**
 * Records in `offsite` every request of `context` that leaves `baseUrl`'s origin (data: and
 * about: addresses aside), with the page it came from: the pages load nothing from elsewhere.
 */
export function watchOffsite(context: BrowserContext, baseUrl: string, offsite: string[]): BrowserContext {
  const origin = new URL(baseUrl).origin;
  context.on('request', (request) => {
    const url = request.url();
    if (url.startsWith('data:') || url.startsWith('about:')) return;
    if (new URL(url).origin !== origin) offsite.push(`${url} (from ${request.frame().url()})`);
  });
  return context;
}
