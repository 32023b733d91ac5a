// Abuse alerts: sources and client networks whose signing rate jumped.
import { defineMessages } from './dict';

export const alerts = defineMessages({
	en: {
		alerts_title: 'Trending sources',
		alerts_intro:
			'Sources and client networks with at least 50 signatures in the last hour and at least five times their hourly average over the day before. Nothing is blocked by an alert; signatures over the rate limits are already stored as invalidated.',
		alerts_none: 'No source is trending right now.',
		alerts_generated: 'Checked at {time}. Reload the page to check again.',
		col_kind: 'Kind',
		col_action: 'Action',
		col_subject: 'Source or network',
		col_last_hour: 'Last hour',
		col_baseline: 'Usual per hour',
		col_flagged: 'Invalidated',
		kind_source: 'source',
		kind_network: 'network',
		subject_direct: '(no source)'
	},
	es: {
		alerts_title: 'Fuentes en alza',
		alerts_intro:
			'Fuentes y redes de clientes con al menos 50 firmas en la última hora y al menos cinco veces su media horaria del día anterior. Una alerta no bloquea nada; las firmas por encima de los límites ya se guardan como invalidadas.',
		alerts_none: 'Ninguna fuente está en alza ahora.',
		alerts_generated: 'Comprobado a las {time}. Recargue la página para comprobar de nuevo.',
		col_kind: 'Tipo',
		col_action: 'Acción',
		col_subject: 'Fuente o red',
		col_last_hour: 'Última hora',
		col_baseline: 'Habitual por hora',
		col_flagged: 'Invalidadas',
		kind_source: 'fuente',
		kind_network: 'red',
		subject_direct: '(sin fuente)'
	},
	fr: {
		alerts_title: 'Sources en hausse',
		alerts_intro:
			'Sources et réseaux clients avec au moins 50 signatures dans la dernière heure et au moins cinq fois leur moyenne horaire de la veille. Une alerte ne bloque rien ; les signatures au-delà des limites sont déjà enregistrées comme invalidées.',
		alerts_none: 'Aucune source n’est en hausse en ce moment.',
		alerts_generated: 'Vérifié à {time}. Rechargez la page pour vérifier à nouveau.',
		col_kind: 'Type',
		col_action: 'Action',
		col_subject: 'Source ou réseau',
		col_last_hour: 'Dernière heure',
		col_baseline: 'Habituel par heure',
		col_flagged: 'Invalidées',
		kind_source: 'source',
		kind_network: 'réseau',
		subject_direct: '(sans source)'
	},
	ru: {
		alerts_title: 'Растущие источники',
		alerts_intro:
			'Источники и сети клиентов, давшие не менее 50 подписей за последний час и не менее чем в пять раз больше своей средней почасовой нормы за предыдущие сутки. Оповещение ничего не блокирует; подписи сверх лимитов уже сохранены как недействительные.',
		alerts_none: 'Сейчас нет растущих источников.',
		alerts_generated: 'Проверено в {time}. Перезагрузите страницу, чтобы проверить снова.',
		col_kind: 'Вид',
		col_action: 'Акция',
		col_subject: 'Источник или сеть',
		col_last_hour: 'За последний час',
		col_baseline: 'Обычно в час',
		col_flagged: 'Недействительные',
		kind_source: 'источник',
		kind_network: 'сеть',
		subject_direct: '(без источника)'
	}
});
