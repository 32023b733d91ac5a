// Demo content: the global campaign against torture and its four priority countries.
// Every target address uses a reserved example domain (RFC 2606), so nothing leaves the machine.
import type { ActionKind, TargetKind } from '../server/src/generated/kysely/enums.ts';

import { readFileSync } from 'node:fs';

export type L = 'en' | 'es' | 'fr' | 'ru' | 'uz' | 'kk' | 'fil' | 'ar';

export interface SeedTarget {
  slug: string;
  name: string;
  title: string;
  organisation: string;
  kind: TargetKind;
  country: string | null;
  email: string;
  language: L;
  timezone: string;
  salutation: string;
  /** the name, title and organisation in the other languages members read (the fields above are English) */
  names: Partial<Record<Exclude<L, 'en'>, { name?: string; title: string; organisation: string }>>;
  /** the name is the target's own official one, shown as it is in every language */
  nameIsOfficial?: boolean;
  notes?: string;
}

export interface SeedAction {
  slug: string;
  kind: ActionKind;
  goal: number;
  milestones: number[];
  defaultLocale: L;
  targetSlugs: string[];
  allowPersonalisation?: boolean;
  /**
   * how its letters go: by default at once, so that a first try shows letters within seconds;
   * a daily digest in office hours where signers live under the government written to and the
   * time of a letter could point at one of them (docs/threat-model.md, "Time of letters")
   */
  deliveryPolicy?: 'IMMEDIATE' | 'DAILY_DIGEST';
  /** officialRequest: what officials receive, addressed to them (a petition's demand, or the organisation's letter) */
  texts: Partial<Record<L, { title: string; summary: string; body: string; letterSubject?: string; officialRequest: string; shareText?: string }>>;
}

export const campaign = {
  slug: 'stop-torture',
  texts: {
    en: { name: 'Stop Torture', summary: 'A global campaign for safeguards in detention, access to justice and accountability for torturers, with a focus on Mexico, the Philippines, Uzbekistan and Kazakhstan.' },
    es: { name: 'Stop Tortura', summary: 'Una campaña mundial por salvaguardias en la detención, acceso a la justicia y rendición de cuentas de los torturadores, centrada en México, Filipinas, Uzbekistán y Kazajistán.' },
    fr: { name: 'Stop Torture', summary: 'Une campagne mondiale pour des garanties en détention, l’accès à la justice et l’obligation de rendre des comptes pour les tortionnaires, centrée sur le Mexique, les Philippines, l’Ouzbékistan et le Kazakhstan.' },
    ru: { name: 'Стоп пыткам', summary: 'Глобальная кампания за гарантии для задержанных, доступ к правосудию и ответственность за пытки; в центре внимания — Мексика, Филиппины, Узбекистан и Казахстан.' },
  } as Partial<Record<L, { name: string; summary: string }>>,
};

export const targets: SeedTarget[] = [
  {
    slug: 'un-sr-torture',
    name: 'UN Special Rapporteur on torture',
    title: 'Special Rapporteur on torture and other cruel, inhuman or degrading treatment or punishment',
    organisation: 'United Nations Human Rights Council',
    kind: 'UN_MECHANISM',
    country: null,
    email: 'sr-torture@un.example',
    language: 'en',
    timezone: 'Europe/Zurich',
    salutation: 'Dear Special Rapporteur',
    names: {
      es: { name: 'Relator Especial sobre la tortura', title: 'Relator Especial sobre la tortura y otros tratos o penas crueles, inhumanos o degradantes', organisation: 'Consejo de Derechos Humanos de las Naciones Unidas' },
      fr: { name: 'Rapporteur spécial sur la torture', title: 'Rapporteur spécial sur la torture et autres peines ou traitements cruels, inhumains ou dégradants', organisation: 'Conseil des droits de l’homme des Nations Unies' },
      ru: { name: 'Специальный докладчик по вопросу о пытках', title: 'Специальный докладчик по вопросу о пытках и других жестоких, бесчеловечных или унижающих достоинство видах обращения и наказания', organisation: 'Совет ООН по правам человека' },
    },
  },
  {
    slug: 'uz-foreign-ministry',
    name: 'Ministry of Foreign Affairs of Uzbekistan',
    title: 'Minister of Foreign Affairs',
    organisation: 'Government of the Republic of Uzbekistan',
    kind: 'MINISTRY',
    country: 'UZ',
    email: 'minister@mfa.uz.example',
    language: 'ru',
    timezone: 'Asia/Tashkent',
    salutation: 'Уважаемый господин министр',
    names: {
      es: { name: 'Ministerio de Asuntos Exteriores de Uzbekistán', title: 'Ministro de Asuntos Exteriores', organisation: 'Gobierno de la República de Uzbekistán' },
      fr: { name: 'Ministère des Affaires étrangères d’Ouzbékistan', title: 'Ministre des Affaires étrangères', organisation: 'Gouvernement de la République d’Ouzbékistan' },
      ru: { name: 'Министерство иностранных дел Республики Узбекистан', title: 'Министр иностранных дел', organisation: 'Правительство Республики Узбекистан' },
    },
  },
  {
    slug: 'mx-fgr',
    name: 'Fiscalía General de la República',
    title: 'Attorney General of the Republic',
    organisation: 'Government of Mexico',
    kind: 'PROSECUTOR',
    country: 'MX',
    email: 'fiscal.general@fgr.mx.example',
    language: 'es',
    timezone: 'America/Mexico_City',
    salutation: 'Estimado Fiscal General',
    names: {
      es: { title: 'Fiscal General de la República', organisation: 'Gobierno de México' },
      fr: { title: 'Procureur général de la République', organisation: 'Gouvernement du Mexique' },
      ru: { title: 'Генеральный прокурор Республики', organisation: 'Правительство Мексики' },
    },
    nameIsOfficial: true,
  },
  {
    slug: 'iachr',
    name: 'Inter-American Commission on Human Rights',
    title: 'Rapporteur on the Rights of Persons Deprived of Liberty',
    organisation: 'Organization of American States',
    kind: 'IGO',
    country: null,
    email: 'rapporteur.detention@iachr.example',
    language: 'es',
    timezone: 'America/New_York',
    salutation: 'Estimada Relatoría',
    names: {
      es: { name: 'Comisión Interamericana de Derechos Humanos', title: 'Relatoría sobre los Derechos de las Personas Privadas de Libertad', organisation: 'Organización de los Estados Americanos' },
      fr: { name: 'Commission interaméricaine des droits de l’homme', title: 'Rapporteur sur les droits des personnes privées de liberté', organisation: 'Organisation des États américains' },
      ru: { name: 'Межамериканская комиссия по правам человека', title: 'Докладчик по правам лиц, лишённых свободы', organisation: 'Организация американских государств' },
    },
  },
  {
    slug: 'ph-doj',
    name: 'Department of Justice of the Philippines',
    title: 'Secretary of Justice',
    organisation: 'Government of the Philippines',
    kind: 'MINISTRY',
    country: 'PH',
    email: 'secretary@doj.ph.example',
    language: 'en',
    timezone: 'Asia/Manila',
    salutation: 'Dear Secretary',
    names: {
      es: { name: 'Departamento de Justicia de Filipinas', title: 'Secretario de Justicia', organisation: 'Gobierno de Filipinas' },
      fr: { name: 'Département de la Justice des Philippines', title: 'Secrétaire à la Justice', organisation: 'Gouvernement des Philippines' },
      ru: { name: 'Министерство юстиции Филиппин', title: 'Министр юстиции', organisation: 'Правительство Филиппин' },
    },
  },
  {
    slug: 'ph-chr',
    name: 'Commission on Human Rights of the Philippines',
    title: 'Chairperson',
    organisation: 'Commission on Human Rights',
    kind: 'GOVERNMENT',
    country: 'PH',
    email: 'chair@chr.ph.example',
    language: 'en',
    timezone: 'Asia/Manila',
    salutation: 'Dear Chairperson',
    names: {
      es: { name: 'Comisión de Derechos Humanos de Filipinas', title: 'Presidencia', organisation: 'Comisión de Derechos Humanos' },
      fr: { name: 'Commission des droits de l’homme des Philippines', title: 'Présidence', organisation: 'Commission des droits de l’homme' },
      ru: { name: 'Комиссия по правам человека Филиппин', title: 'Председатель', organisation: 'Комиссия по правам человека' },
    },
  },
  {
    slug: 'kz-prosecutor-general',
    name: 'Prosecutor General’s Office of Kazakhstan',
    title: 'Prosecutor General',
    organisation: 'Republic of Kazakhstan',
    kind: 'PROSECUTOR',
    country: 'KZ',
    email: 'prosecutor.general@prokuror.kz.example',
    language: 'ru',
    timezone: 'Asia/Almaty',
    salutation: 'Уважаемый Генеральный прокурор',
    names: {
      es: { name: 'Fiscalía General de Kazajistán', title: 'Fiscal General', organisation: 'República de Kazajistán' },
      fr: { name: 'Parquet général du Kazakhstan', title: 'Procureur général', organisation: 'République du Kazakhstan' },
      ru: { name: 'Генеральная прокуратура Республики Казахстан', title: 'Генеральный прокурор', organisation: 'Республика Казахстан' },
    },
  },
  {
    slug: 'eu-eeas',
    name: 'European External Action Service',
    title: 'EU Special Representative for Human Rights',
    organisation: 'European Union',
    kind: 'IGO',
    country: null,
    email: 'eusr.human-rights@eeas.example',
    language: 'en',
    timezone: 'Europe/Brussels',
    salutation: 'Dear Special Representative',
    names: {
      es: { name: 'Servicio Europeo de Acción Exterior', title: 'Representante Especial de la UE para los Derechos Humanos', organisation: 'Unión Europea' },
      fr: { name: 'Service européen pour l’action extérieure', title: 'Représentant spécial de l’UE pour les droits de l’homme', organisation: 'Union européenne' },
      ru: { name: 'Европейская служба внешних связей', title: 'Специальный представитель ЕС по правам человека', organisation: 'Европейский союз' },
    },
  },
  {
    slug: 'achpr-cpta',
    name: 'Committee for the Prevention of Torture in Africa',
    title: 'Chairperson',
    organisation: 'African Commission on Human and Peoples’ Rights (African Union)',
    kind: 'IGO',
    country: null,
    email: 'cpta@achpr.example',
    language: 'fr',
    timezone: 'Africa/Banjul',
    salutation: 'Madame la Présidente, Monsieur le Président',
    names: {
      es: { name: 'Comité para la Prevención de la Tortura en África', title: 'Presidencia', organisation: 'Comisión Africana de Derechos Humanos y de los Pueblos (Unión Africana)' },
      fr: { name: 'Comité pour la prévention de la torture en Afrique', title: 'Présidence', organisation: 'Commission africaine des droits de l’homme et des peuples (Union africaine)' },
      ru: { name: 'Комитет по предотвращению пыток в Африке', title: 'Председатель', organisation: 'Африканская комиссия по правам человека и народов (Африканский союз)' },
    },
  },
];

export const actions: SeedAction[] = [
  {
    slug: 'uzbekistan-let-the-rapporteur-in',
    deliveryPolicy: 'DAILY_DIGEST',
    kind: 'PETITION',
    goal: 10_000,
    milestones: [1_000, 5_000, 10_000],
    defaultLocale: 'en',
    targetSlugs: ['uz-foreign-ministry', 'un-sr-torture'],
    texts: {
      en: {
        title: 'Uzbekistan: let the UN torture investigator visit',
        summary: 'Ask the Government of Uzbekistan to invite the UN Special Rapporteur on torture and to let him see places of detention freely.',
        body:
          'People held in Uzbekistan’s police stations and prisons still report beatings, suffocation and threats against their relatives, often to make them sign confessions that courts then accept as evidence.\n\n' +
          'An independent visit by the UN Special Rapporteur on torture, with unannounced access to detention sites and private interviews with detainees, is one of the most effective safeguards the international system offers. Uzbekistan has not allowed such a visit in many years.\n\n' +
          'Sign to ask the Minister of Foreign Affairs to issue the invitation and agree the terms of reference the Rapporteur needs.',
        shareText: 'I signed: Uzbekistan should let the UN torture investigator visit.',
        letterSubject: 'Petition: invite the UN Special Rapporteur on torture to Uzbekistan',
        officialRequest:
          'We, the undersigned, call on the Government of Uzbekistan to invite the UN Special Rapporteur on torture and other cruel, inhuman or degrading treatment or punishment to visit the country without further delay.\n\n' +
          'We ask that the terms of the visit allow the Rapporteur to go, unannounced, to any police station, pre-trial detention centre or prison, and to speak in private with anyone held there.\n\n' +
          'We also ask that no confession or statement obtained through torture or ill-treatment is ever admitted as evidence in court, and that every allegation of torture is investigated promptly and independently.',
      },
      ru: {
        title: 'Узбекистан: пустите специального докладчика ООН по пыткам',
        summary: 'Призовите правительство Узбекистана пригласить специального докладчика ООН по вопросу о пытках и обеспечить ему свободный доступ к местам лишения свободы.',
        body:
          'Задержанные в отделениях полиции и тюрьмах Узбекистана по-прежнему сообщают об избиениях, удушении и угрозах родственникам — чаще всего ради признаний, которые суды затем принимают как доказательства.\n\n' +
          'Независимый визит специального докладчика ООН по вопросу о пытках с правом внезапного посещения мест содержания и конфиденциальных бесед с задержанными — одна из самых действенных гарантий, которые есть у международной системы.\n\n' +
          'Подпишите, чтобы попросить министра иностранных дел направить приглашение и согласовать необходимый мандат визита.',
        officialRequest:
          'Мы, нижеподписавшиеся, призываем правительство Узбекистана без дальнейших промедлений пригласить в страну специального докладчика ООН по вопросу о пытках и других жестоких, бесчеловечных или унижающих достоинство видах обращения и наказания.\n\n' +
          'Просим, чтобы условия визита позволяли докладчику без предупреждения посещать любые отделения полиции, следственные изоляторы и тюрьмы и беседовать наедине с любым содержащимся там человеком.\n\n' +
          'Просим также, чтобы признания и показания, полученные под пытками или в результате жестокого обращения, никогда не принимались судом в качестве доказательств, а каждое сообщение о пытках безотлагательно и независимо расследовалось.',
      },
      es: {
        title: 'Uzbekistán: que el relator de la ONU sobre la tortura pueda visitar el país',
        summary: 'Pide al Gobierno de Uzbekistán que invite al Relator Especial de la ONU sobre la tortura y le permita visitar libremente los lugares de detención.',
        body:
          'Las personas detenidas en comisarías y prisiones de Uzbekistán siguen denunciando golpes, asfixia y amenazas contra sus familias, a menudo para arrancarles confesiones que luego los tribunales admiten como prueba.\n\n' +
          'Una visita independiente del Relator Especial, con acceso sin previo aviso y entrevistas privadas con las personas detenidas, es una de las salvaguardias más eficaces del sistema internacional.',
        officialRequest:
          'Las personas abajo firmantes pedimos al Gobierno de Uzbekistán que invite sin más demora al Relator Especial de la ONU sobre la tortura y otros tratos o penas crueles, inhumanos o degradantes a visitar el país.\n\n' +
          'Pedimos que las condiciones de la visita permitan al Relator acudir sin previo aviso a cualquier comisaría, centro de prisión preventiva o cárcel, y entrevistarse en privado con cualquier persona detenida.\n\n' +
          'Pedimos también que ninguna confesión o declaración obtenida mediante tortura o malos tratos se admita jamás como prueba, y que toda denuncia de tortura se investigue con prontitud y de forma independiente.',
      },
      fr: {
        title: 'Ouzbékistan : laissez entrer le rapporteur de l’ONU sur la torture',
        summary: 'Demandez au gouvernement ouzbek d’inviter le Rapporteur spécial des Nations unies sur la torture et de lui ouvrir librement les lieux de détention.',
        body:
          'Des personnes détenues dans les commissariats et les prisons d’Ouzbékistan font encore état de coups, d’asphyxie et de menaces contre leurs proches, souvent pour obtenir des aveux que les tribunaux retiennent ensuite.\n\n' +
          'Une visite indépendante du Rapporteur spécial, avec un accès inopiné aux lieux de détention et des entretiens privés, est l’une des garanties les plus efficaces du système international.',
        officialRequest:
          'Nous, signataires, demandons au gouvernement de l’Ouzbékistan d’inviter sans plus tarder le Rapporteur spécial des Nations unies sur la torture et autres peines ou traitements cruels, inhumains ou dégradants à se rendre dans le pays.\n\n' +
          'Nous demandons que les termes de la visite permettent au Rapporteur de se rendre sans préavis dans tout commissariat, centre de détention provisoire ou prison, et de s’entretenir en privé avec toute personne qui y est détenue.\n\n' +
          'Nous demandons aussi qu’aucun aveu ni déclaration obtenu par la torture ou des mauvais traitements ne soit jamais admis comme preuve, et que toute allégation de torture fasse l’objet d’une enquête rapide et indépendante.',
      },
    },
  },
  {
    slug: 'mexico-independent-forensics',
    kind: 'LETTER',
    goal: 5_000,
    milestones: [500, 2_500, 5_000],
    defaultLocale: 'en',
    targetSlugs: ['mx-fgr', 'iachr'],
    allowPersonalisation: true,
    texts: {
      en: {
        title: 'Mexico: independent forensic examinations for torture survivors',
        summary: 'Write to Mexico’s Attorney General: the doctors who examine people who say they were tortured must be independent of the prosecutors whose officers they accuse.',
        body:
          'Torture and ill-treatment occur in policing and security operations across Mexico, and almost no one is punished for them. One reason is that the official forensic services that examine victims answer to the same prosecution service whose agents are accused.\n\n' +
          'Independent, promptly available forensic examinations that follow the Istanbul Protocol would give survivors evidence that courts can rely on.',
        letterSubject: 'Guarantee independent forensic examinations of torture victims',
        officialRequest:
          'I am writing to urge you to guarantee the independence of the official forensic services that examine people who report torture or ill-treatment.\n\n' +
          'Examinations should be carried out promptly, by experts who do not answer to the authorities under investigation, and in line with the Istanbul Protocol. Survivors and their lawyers should be able to obtain independent expert opinions and to have them considered in court.\n\n' +
          'Without reliable forensic evidence, torture in Mexico will remain unpunished.',
      },
      es: {
        title: 'México: peritajes independientes para sobrevivientes de tortura',
        summary: 'Escribe a la Fiscalía General: los médicos que examinan a quienes denuncian tortura deben ser independientes de la fiscalía cuyos agentes son acusados.',
        body:
          'La tortura y los malos tratos se producen en operativos policiales y de seguridad en todo México, y casi nadie es castigado. Una de las razones es que los servicios periciales oficiales que examinan a las víctimas dependen de la misma fiscalía cuyos agentes son señalados.\n\n' +
          'Peritajes independientes y oportunos, conforme al Protocolo de Estambul, darían a las personas sobrevivientes pruebas en las que los tribunales puedan confiar.',
        letterSubject: 'Garanticen peritajes independientes para las víctimas de tortura',
        officialRequest:
          'Le escribo para pedirle que garantice la independencia de los servicios periciales oficiales que examinan a las personas que denuncian tortura o malos tratos.\n\n' +
          'Los exámenes deben realizarse sin demora, por especialistas que no dependan de las autoridades investigadas y conforme al Protocolo de Estambul. Las víctimas y sus abogados deben poder obtener peritajes independientes y que los tribunales los tomen en cuenta.\n\n' +
          'Sin pruebas periciales fiables, la tortura en México seguirá impune.',
      },
    },
  },
  {
    slug: 'philippines-enforce-anti-torture-law',
    kind: 'PETITION',
    goal: 8_000,
    milestones: [1_000, 4_000, 8_000],
    defaultLocale: 'en',
    targetSlugs: ['ph-doj', 'ph-chr'],
    texts: {
      en: {
        title: 'Philippines: enforce the anti-torture law and protect victims’ families',
        summary: 'The Philippines outlaws torture in its constitution and its criminal law, yet almost no one is convicted. Ask the Secretary of Justice to enforce the law and protect those who complain.',
        body:
          'The Philippines has ratified the UN Convention against Torture, its constitution prohibits torture and its penal law makes it a crime. Still, torture by police is widespread and its perpetrators are rarely brought to justice.\n\n' +
          'Most victims come from poor communities; many are women, children or people with previous convictions. Families who seek justice fear reprisals.\n\n' +
          'Sign to ask for prompt, independent investigations of every complaint, and real protection for victims, witnesses and their families.',
        letterSubject: 'Petition: enforce the Anti-Torture Act and protect complainants',
        officialRequest:
          'We, the undersigned, call on the Department of Justice to enforce the Anti-Torture Act: every complaint of torture should be investigated promptly and independently, and those responsible prosecuted, whatever their rank.\n\n' +
          'We also ask you to protect victims, witnesses and their families from reprisals, so that no one is afraid to use the law against those who tortured them.',
      },
      es: {
        title: 'Filipinas: que se aplique la ley contra la tortura y se proteja a las familias',
        summary: 'Filipinas prohíbe la tortura en su Constitución y en su ley penal, pero casi nadie es condenado. Pide al Secretario de Justicia que aplique la ley y proteja a quienes denuncian.',
        body: 'La tortura policial está extendida en Filipinas y sus autores rara vez rinden cuentas. Las familias que buscan justicia temen represalias.',
        officialRequest:
          'Las personas abajo firmantes pedimos al Departamento de Justicia que haga cumplir la Ley contra la Tortura: que toda denuncia de tortura se investigue con prontitud y de forma independiente, y que se procese a los responsables, sea cual sea su rango.\n\n' +
          'Le pedimos también que proteja de las represalias a las víctimas, a los testigos y a sus familias, para que nadie tema recurrir a la ley contra quienes le torturaron.',
      },
      fr: {
        title: 'Philippines : appliquer la loi contre la torture et protéger les familles',
        summary: 'Les Philippines interdisent la torture dans leur Constitution et leur droit pénal, mais presque personne n’est condamné. Demandez au secrétaire à la Justice d’appliquer la loi et de protéger les plaignants.',
        body: 'La torture policière est répandue aux Philippines et ses auteurs sont rarement traduits en justice. Les familles qui demandent justice craignent des représailles.',
        officialRequest:
          'Nous, signataires, demandons au ministère de la Justice d’appliquer la loi contre la torture : que chaque plainte pour torture fasse l’objet d’une enquête rapide et indépendante, et que les responsables soient poursuivis, quel que soit leur grade.\n\n' +
          'Nous vous demandons aussi de protéger les victimes, les témoins et leurs familles contre les représailles, afin que personne ne craigne de recourir à la loi contre ceux qui l’ont torturé.',
      },
      ru: {
        title: 'Филиппины: применяйте закон против пыток и защитите семьи пострадавших',
        summary: 'Конституция и уголовный закон Филиппин запрещают пытки, но осуждённых почти нет. Попросите министра юстиции применять закон и защищать тех, кто подаёт жалобы.',
        body: 'Пытки в полиции на Филиппинах распространены, а виновные почти никогда не несут ответственности. Семьи, которые добиваются справедливости, боятся расправы.',
        officialRequest:
          'Мы, нижеподписавшиеся, призываем Министерство юстиции обеспечить исполнение Закона против пыток: каждая жалоба на пытки должна безотлагательно и независимо расследоваться, а виновные — привлекаться к ответственности независимо от их звания.\n\n' +
          'Просим также защитить пострадавших, свидетелей и их семьи от расправы, чтобы никто не боялся обращаться к закону против тех, кто его пытал.',
      },
    },
  },
  {
    slug: 'kazakhstan-independent-investigations',
    deliveryPolicy: 'DAILY_DIGEST',
    kind: 'LETTER',
    goal: 5_000,
    milestones: [500, 2_500, 5_000],
    defaultLocale: 'en',
    targetSlugs: ['kz-prosecutor-general'],
    allowPersonalisation: true,
    texts: {
      en: {
        title: 'Kazakhstan: investigate torture complaints independently',
        summary: 'Write to Kazakhstan’s Prosecutor General: complaints of torture must be investigated by people independent of the police and security services they concern.',
        body:
          'In Kazakhstan, complaints of torture are too often examined by colleagues of the officers accused, and closed without a real investigation. This lack of independence is what keeps torturers safe from prosecution.\n\n' +
          'Kazakhstan can show its neighbours that this can change.',
        letterSubject: 'Independent investigation of every torture complaint',
        officialRequest:
          'I am writing to ask you to ensure that every complaint of torture or ill-treatment is investigated promptly, thoroughly and by investigators independent of the agency whose officers are accused.\n\n' +
          'Complainants and their lawyers should be informed and protected throughout, and confessions obtained under duress must never be used as evidence.',
      },
      ru: {
        title: 'Казахстан: независимое расследование жалоб на пытки',
        summary: 'Напишите Генеральному прокурору Казахстана: жалобы на пытки должны расследовать люди, не зависящие от полиции и спецслужб, о которых идёт речь.',
        body:
          'В Казахстане жалобы на пытки слишком часто проверяют коллеги обвиняемых сотрудников, и дела закрываются без настоящего расследования. Именно эта зависимость защищает виновных от уголовного преследования.\n\n' +
          'Казахстан может показать соседним странам, что это можно изменить.',
        letterSubject: 'Независимое расследование каждой жалобы на пытки',
        officialRequest:
          'Прошу вас обеспечить, чтобы каждая жалоба на пытки или жестокое обращение расследовалась незамедлительно, тщательно и следователями, не зависящими от ведомства, сотрудники которого обвиняются.\n\n' +
          'Заявители и их адвокаты должны получать информацию и защиту на всех этапах, а признания, полученные под давлением, никогда не должны использоваться как доказательства.',
      },
    },
  },
  {
    slug: 'lawyers-and-doctors-in-detention',
    kind: 'PETITION',
    goal: 20_000,
    milestones: [2_000, 10_000, 20_000],
    defaultLocale: 'en',
    targetSlugs: ['eu-eeas', 'achpr-cpta', 'iachr', 'un-sr-torture'],
    texts: {
      en: {
        title: 'Lawyers and doctors for everyone in detention',
        summary: 'Ask the EU, the African Union and the Inter-American system to press every government for the basic safeguards that prevent torture: a lawyer from the first hour, an independent doctor, and a court that excludes forced confessions.',
        body:
          'Torture happens most in the first hours after arrest, out of sight. The safeguards that stop it are well known: access to a lawyer, an independent medical examination, contact with family, and courts that refuse evidence obtained by torture.\n\n' +
          'Regional and international bodies can make these safeguards a condition of cooperation. Sign to ask them to do so.',
        letterSubject: 'Petition: make detention safeguards a condition of cooperation',
        officialRequest:
          'We, the undersigned, ask you to press every state you work with to guarantee, in law and in practice, the safeguards that prevent torture in the first hours of detention: access to a lawyer from the moment of arrest, a prompt examination by an independent doctor, and contact with family.\n\n' +
          'We also ask you to insist that courts exclude any statement obtained by torture or ill-treatment, and to make these safeguards a condition of your cooperation.',
      },
      fr: {
        title: 'Un avocat et un médecin pour toute personne détenue',
        summary: 'Demandez à l’UE, à l’Union africaine et au système interaméricain d’exiger de chaque gouvernement les garanties qui préviennent la torture.',
        body: 'La torture a surtout lieu dans les premières heures après l’arrestation, à l’abri des regards. Les garanties qui l’empêchent sont connues : un avocat, un examen médical indépendant, le contact avec la famille et des tribunaux qui écartent les aveux forcés.',
        officialRequest:
          'Nous, signataires, vous demandons d’exiger de chaque État avec lequel vous travaillez qu’il garantisse, en droit et dans les faits, les garanties qui préviennent la torture dans les premières heures de la détention : l’accès à un avocat dès l’arrestation, un examen rapide par un médecin indépendant et le contact avec la famille.\n\n' +
          'Nous vous demandons aussi d’insister pour que les tribunaux écartent toute déclaration obtenue par la torture ou des mauvais traitements, et de faire de ces garanties une condition de votre coopération.',
      },
      es: {
        title: 'Abogado y médico para toda persona detenida',
        summary: 'Pide a la UE, la Unión Africana y el sistema interamericano que exijan a cada gobierno las salvaguardias que previenen la tortura.',
        body: 'La tortura ocurre sobre todo en las primeras horas tras la detención. Las salvaguardias que la evitan son conocidas: abogado, examen médico independiente, contacto con la familia y tribunales que rechazan las confesiones forzadas.',
        officialRequest:
          'Las personas abajo firmantes le pedimos que exija a cada Estado con el que trabaja que garantice, en la ley y en la práctica, las salvaguardias que previenen la tortura en las primeras horas de detención: acceso a un abogado desde el momento del arresto, un examen rápido por un médico independiente y contacto con la familia.\n\n' +
          'Le pedimos también que insista en que los tribunales excluyan toda declaración obtenida mediante tortura o malos tratos, y que haga de estas salvaguardias una condición de su cooperación.',
      },
      ru: {
        title: 'Адвокат и врач для каждого задержанного',
        summary: 'Призовите ЕС, Африканский союз и межамериканскую систему требовать от каждого правительства гарантий, которые предотвращают пытки.',
        body: 'Чаще всего пытают в первые часы после задержания. Гарантии известны: адвокат, независимый медицинский осмотр, связь с семьёй и суды, не принимающие признаний под пыткой.',
        officialRequest:
          'Мы, нижеподписавшиеся, просим вас добиваться от каждого государства, с которым вы сотрудничаете, чтобы оно в законе и на практике обеспечило гарантии, предотвращающие пытки в первые часы задержания: доступ к адвокату с момента задержания, безотлагательный осмотр независимым врачом и связь с семьёй.\n\n' +
          'Просим также настаивать на том, чтобы суды исключали любые показания, полученные под пытками или в результате жестокого обращения, и сделать эти гарантии условием вашего сотрудничества.',
      },
    },
  },
];

/**
 * The campaign's texts in the languages of its priority countries and in Arabic, kept one file
 * per language (prisma/seed-translations/<locale>.json, the translators' own): the campaign's
 * name, the targets' names, and the actions the campaign runs in that language (the Uzbekistan
 * petition in Uzbek, the Kazakhstan letter in Kazakh, the Philippines petition in Filipino).
 * An official's letters are in their own language where the action has a text in it, so the
 * officials of those three countries are written to in Uzbek, Kazakh and Filipino.
 */
interface SeedTranslation {
  campaign: { name: string; summary: string };
  targets: Record<string, { name?: string; title: string; organisation: string }>;
  actions: Record<string, { title: string; summary: string; body: string; letterSubject?: string; officialRequest: string; shareText?: string }>;
  /** the greeting of a letter to the official of that language's country */
  salutation?: string;
}
const OWN_LANGUAGE: Partial<Record<L, string>> = { uz: 'uz-foreign-ministry', kk: 'kz-prosecutor-general', fil: 'ph-doj' };
for (const locale of ['uz', 'kk', 'fil', 'ar'] as const) {
  const tr = JSON.parse(readFileSync(new URL(`./seed-translations/${locale}.json`, import.meta.url), 'utf8')) as SeedTranslation;
  campaign.texts[locale] = tr.campaign;
  for (const t of targets) {
    const names = tr.targets[t.slug];
    if (names) t.names[locale] = names;
    if (OWN_LANGUAGE[locale] === t.slug && tr.salutation) {
      t.language = locale;
      t.salutation = tr.salutation;
    }
  }
  for (const a of actions) {
    const text = tr.actions[a.slug];
    if (text) a.texts[locale] = text;
  }
}
