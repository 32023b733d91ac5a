/**
 * Share links: plain links to each network's own share page, so nothing of theirs is
 * loaded on our pages; the visitor leaves only if they choose to.
 */
export function shareLinks(url: string, text: string, emailLabel: string): { name: string; href: string }[] {
	const u = encodeURIComponent(url);
	const t = encodeURIComponent(text);
	const both = encodeURIComponent(`${text} ${url}`);
	return [
		{ name: 'WhatsApp', href: `https://wa.me/?text=${both}` },
		{ name: 'Telegram', href: `https://t.me/share/url?url=${u}&text=${t}` },
		{ name: 'Facebook', href: `https://www.facebook.com/sharer/sharer.php?u=${u}` },
		{ name: 'X', href: `https://x.com/intent/post?text=${t}&url=${u}` },
		{ name: 'Bluesky', href: `https://bsky.app/intent/compose?text=${both}` },
		{ name: emailLabel, href: `mailto:?subject=${t}&body=${encodeURIComponent(`${text}\n\n${url}`)}` }
	];
}
