// Refusals that come before a request is read: a body over its limit (413), a body of unknown
// length on a page form (411), too many requests from one address (429, from nginx in front).
// - The answer: JSON under /api/ (errors.ts's one body), elsewhere a short page in the reader's
//   language. nginx's own refusals ask for the same answers (GET /_chorus/refused/...,
//   deploy/nginx), so a reader never meets nginx's English page.
// - Behind nginx (a request from a trusted proxy), the connection stays open: what is left of
//   the refused body is read from nginx and dropped, up to DRAIN_LIMIT. Closing at once lost
//   the answer there: nginx was still sending the body, the close broke the write, and the
//   reader got nginx's 502 instead of the 413. From anyone else the connection is closed after
//   the answer, as before: no stranger makes the server read a body it refused.
import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isLocale, localeDirection, negotiateLocale, type Locale } from '../shared/locales.ts';

/** the most of a refused body read and dropped before the connection is closed instead (nginx's largest bound is 21 MB) */
export const DRAIN_LIMIT = 32 * 1024 * 1024;

type Refusal = 'too-large' | 'too-many' | 'length-required' | 'bad-request';

const STATUS: Record<Refusal, number> = { 'too-large': 413, 'too-many': 429, 'length-required': 411, 'bad-request': 400 };

const JSON_BODY: Record<Refusal, { error: string; code: string; message: string }> = {
  'too-large': { error: 'Payload Too Large', code: 'body_too_large', message: 'The request body is too large' },
  'too-many': { error: 'Too Many Requests', code: 'rate_limited', message: 'Too many requests from your network; please try again later' },
  'length-required': { error: 'Length Required', code: 'length_required', message: 'Send the body with a Content-Length' },
  'bad-request': { error: 'Bad Request', code: 'bad_request', message: 'The request could not be read: its method, path or headers are malformed or too long' },
};

/** nginx's refusals of a request it could not read, each answered as bad-request with its own status */
const BAD_REQUEST_STATUS = new Set([400, 405, 414]);

const TOO_LARGE: Record<Locale, { title: string; text: string }> = {
  en: { title: 'Too much data', text: 'What you sent is larger than this form accepts. Go back, shorten it and send it again.' },
  es: { title: 'Demasiados datos', text: 'Lo que has enviado supera lo que admite este formulario. Vuelve atrás, acórtalo y envíalo de nuevo.' },
  fr: { title: 'Trop de données', text: 'Ce que vous avez envoyé dépasse ce que ce formulaire accepte. Revenez en arrière, raccourcissez-le et renvoyez-le.' },
  ru: { title: 'Слишком много данных', text: 'Отправленное превышает то, что принимает эта форма. Вернитесь назад, сократите текст и отправьте снова.' },
  uz: { title: "Maʼlumotlar hajmi juda katta", text: "Siz yuborgan maʼlumotlar ushbu shakl qabul qila oladigan hajmdan katta. Orqaga qayting, matnni qisqartiring va qaytadan yuboring." },
  fil: { title: "Masyadong maraming datos", text: "Mas malaki ang ipinadala ninyo kaysa sa kayang tanggapin ng form na ito. Bumalik, paikliin ito, at ipadala itong muli." },
  kk: { title: "Деректер тым көп", text: "Сіз жіберген мәлімет бұл форма қабылдай алатын көлемнен үлкен. Артқа оралып, оны қысқартыңыз да, қайта жіберіңіз." },
  ar: { title: "حجم البيانات كبير جدًا", text: "ما أرسلتموه أكبر مما يقبله هذا النموذج. عودوا إلى الصفحة السابقة، واختصروه، ثم أرسلوه مجددًا." },
};

const PAGE: Record<Refusal, Record<Locale, { title: string; text: string }>> = {
  'too-large': TOO_LARGE,
  // a form body of unknown length: browsers always send a length, so this is not one of theirs
  'length-required': TOO_LARGE,
  'bad-request': {
    en: { title: 'This address cannot be read', text: 'The address or the request your browser sent is malformed or too long. Go back, or open the page again from its link.' },
    es: { title: 'No se puede leer esta dirección', text: 'La dirección o la solicitud que envió tu navegador está mal formada o es demasiado larga. Vuelve atrás o abre de nuevo la página desde su enlace.' },
    fr: { title: 'Cette adresse ne peut pas être lue', text: 'L’adresse ou la requête envoyée par votre navigateur est mal formée ou trop longue. Revenez en arrière, ou rouvrez la page depuis son lien.' },
    ru: { title: 'Этот адрес не удаётся прочитать', text: 'Адрес или запрос, отправленный вашим браузером, искажён или слишком длинный. Вернитесь назад или откройте страницу заново по ссылке.' },
    uz: { title: "Bu manzilni oʻqib boʻlmaydi", text: "Brauzeringiz yuborgan manzil yoki soʻrov notoʻgʻri tuzilgan yoki juda uzun. Orqaga qayting yoki sahifani uning havolasi orqali qaytadan oching." },
    fil: { title: "Hindi mabasa ang address na ito", text: "Mali ang anyo o masyadong mahaba ang address o ang kahilingang ipinadala ng inyong browser. Bumalik, o buksan muli ang pahina mula sa link nito." },
    kk: { title: "Бұл мекенжайды оқу мүмкін емес", text: "Браузеріңіз жіберген мекенжай немесе сұрау қате құрастырылған немесе тым ұзын. Артқа оралыңыз немесе бетті оның сілтемесі арқылы қайта ашыңыз." },
    ar: { title: "تتعذر قراءة هذا العنوان", text: "العنوان أو الطلب الذي أرسله متصفحكم مشوَّه أو طويل جدًا. عودوا إلى الصفحة السابقة، أو افتحوا الصفحة مجددًا من رابطها." },
  },
  'too-many': {
    en: { title: 'Too many requests', text: 'Too many requests came from your network in a short time. Wait a moment, then reload the page.' },
    es: { title: 'Demasiadas solicitudes', text: 'Han llegado demasiadas solicitudes desde tu red en poco tiempo. Espera un momento y vuelve a cargar la página.' },
    fr: { title: 'Trop de requêtes', text: 'Trop de requêtes sont venues de votre réseau en peu de temps. Attendez un instant, puis rechargez la page.' },
    ru: { title: 'Слишком много запросов', text: 'Из вашей сети за короткое время пришло слишком много запросов. Подождите немного и обновите страницу.' },
    uz: { title: "Soʻrovlar juda koʻp", text: "Qisqa vaqt ichida tarmogʻingizdan juda koʻp soʻrov keldi. Biroz kuting, soʻng sahifani qayta yuklang." },
    fil: { title: "Masyadong maraming kahilingan", text: "Masyadong maraming kahilingan ang nagmula sa inyong network sa maikling panahon. Maghintay po sandali, at saka i-reload ang pahina." },
    kk: { title: "Сұраулар тым көп", text: "Қысқа уақыт ішінде сіздің желіңізден тым көп сұрау келді. Сәл күтіп, бетті қайта жүктеңіз." },
    ar: { title: "طلبات كثيرة جدًا", text: "وردت طلبات كثيرة جدًا من شبكتكم خلال وقت قصير. انتظروا قليلًا، ثم أعيدوا تحميل الصفحة." },
  },
};

/** the way back every refusal page offers: the home page in its language */
const HOME: Record<Locale, string> = {
  en: 'Go to the home page',
  es: 'Ir a la página de inicio',
  fr: 'Aller à la page d’accueil',
  ru: 'Перейти на главную страницу',
  uz: "Bosh sahifaga oʻtish",
  fil: "Pumunta sa pangunahing pahina",
  kk: "Басты бетке өту",
  ar: "الانتقال إلى الصفحة الرئيسية",
};

/** Whether `url` is the API's (answered in JSON), not a page's. */
export const isApiPath = (url: string): boolean => /^\/api(?:\/|$|\?)/.test(url);

/** The refusal for a request to `url`: the JSON body under /api/, else a page in the language of the path or of Accept-Language. */
export function refusalAnswer(what: Refusal, url: string, acceptLanguage: string | undefined, status = STATUS[what]): { type: string; body: string } {
  if (isApiPath(url)) {
    // the label is the status's own (414 URI Too Long, 405 Method Not Allowed): a refusal may be
    // answered with another status than its kind's
    return { type: 'application/json; charset=utf-8', body: JSON.stringify({ statusCode: status, ...JSON_BODY[what], error: STATUS_CODES[status] ?? JSON_BODY[what].error }) };
  }
  const prefix = url.split('/')[1];
  const locale = isLocale(prefix) ? prefix : negotiateLocale(acceptLanguage);
  const { title, text } = PAGE[what][locale];
  return {
    type: 'text/html; charset=utf-8',
    body: `<!doctype html><html lang="${locale}" dir="${localeDirection(locale)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head><body><main><h1>${title}</h1><p>${text}</p><p><a href="/${locale}/">${HOME[locale]}</a></p></main></body></html>`,
  };
}

/** Whether the request came through a proxy the server trusts (TRUSTED_PROXIES): nginx in front. */
function fromTrustedProxy(req: FastifyRequest): boolean {
  return (req.ips?.length ?? 1) > 1;
}

/**
 * A refusal sent before the body was read: behind a trusted proxy, the rest of the body is
 * dropped once the answer is sent and the connection kept; from anyone else, it is closed.
 */
export function endRefused(req: FastifyRequest, reply: FastifyReply): void {
  if (fromTrustedProxy(req)) {
    reply.removeHeader('connection');
    drainAfterAnswer(req, reply);
  } else {
    reply.header('connection', 'close');
  }
}

/**
 * Once the answer is sent, what is left of the request's body is read and dropped, so the
 * connection stays usable; beyond DRAIN_LIMIT the connection is closed.
 */
export function drainAfterAnswer(req: FastifyRequest, reply: FastifyReply): void {
  reply.raw.once('finish', () => {
    const raw = req.raw;
    if (raw.complete) return;
    let read = 0;
    raw.removeAllListeners('data');
    raw.on('data', (chunk: Buffer) => {
      read += chunk.length;
      if (read > DRAIN_LIMIT) raw.socket?.destroy();
    });
    raw.resume();
  });
}

/** Answers a refusal before the body is read, and drains the body after. */
export function refuse(req: FastifyRequest, reply: FastifyReply, what: Refusal) {
  const { type, body } = refusalAnswer(what, req.url, req.headers['accept-language']);
  endRefused(req, reply);
  return reply.code(STATUS[what]).type(type).header('cache-control', 'no-store').send(body);
}

/**
 * GET /_chorus/refused/too-large, /too-many and /bad-request?status=N: what nginx answers with
 * when it refuses (error_page in deploy/nginx); X-Chorus-Refused is the start of the path it
 * refused (/api/, a language, or /). Reachable only through nginx's internal redirect there (and
 * harmless anywhere: a page saying no).
 */
export function refusalRoutes(app: FastifyInstance): void {
  app.get<{ Params: { what: string }; Querystring: { status?: string } }>('/_chorus/refused/:what', { schema: { hide: true } }, async (req, reply) => {
    const what = req.params.what;
    if (what !== 'too-large' && what !== 'too-many' && what !== 'bad-request') return reply.code(404).send({ statusCode: 404, error: 'Not Found', code: 'not_found', message: 'Not found' });
    const asked = Number(req.query.status);
    const status = what === 'bad-request' && BAD_REQUEST_STATUS.has(asked) ? asked : STATUS[what];
    const refused = req.headers['x-chorus-refused'];
    const url = typeof refused === 'string' && refused.startsWith('/') ? refused : req.url;
    const { type, body } = refusalAnswer(what, url, req.headers['accept-language'], status);
    if (what === 'too-many') reply.header('retry-after', '1');
    return reply.code(status).type(type).header('cache-control', 'no-store').send(body);
  });
}
