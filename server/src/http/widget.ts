// The embeddable widget: /widget.js, a few hundred bytes that put an iframe of our
// /embed/<slug> page after the script tag. The iframe is sandboxed without scripts (our pages
// have none) and keeps forms and same-origin (the form posts back to us, and SvelteKit checks
// the Origin). It sets no cookie and reads nothing from the host page.
//   <script src="https://chorus.example.org/widget.js" data-action="free-them" data-lang="es" async></script>
export const WIDGET_JS = `/* Chorus sign widget */
(function () {
  var s = document.currentScript;
  if (!s || !s.src) return;
  var slug = s.getAttribute('data-action') || '';
  if (!/^[a-z0-9][a-z0-9-]{0,79}$/.test(slug)) return;
  var lang = s.getAttribute('data-lang') || '';
  var src = new URL(s.src).origin + (/^(es|fr|ru)$/.test(lang) ? '/' + lang : '') + '/embed/' + slug;
  var source = s.getAttribute('data-source') || '';
  if (/^[A-Za-z0-9._~:-]{1,100}$/.test(source)) src += '?source=' + encodeURIComponent(source);
  var f = document.createElement('iframe');
  f.src = src;
  f.title = s.getAttribute('data-title') || 'Sign';
  f.width = '100%';
  f.height = String(parseInt(s.getAttribute('data-height') || '', 10) || 760);
  f.loading = 'lazy';
  f.referrerPolicy = 'no-referrer';
  f.setAttribute('sandbox', 'allow-forms allow-same-origin allow-popups allow-popups-to-escape-sandbox');
  f.style.border = '0';
  f.style.maxWidth = '42rem';
  s.parentNode.insertBefore(f, s.nextSibling);
})();
`;
