// The title an action goes by where staff and officials read it: in a preferred language when
// the action has a text in it, else in the action's default language, else its slug.
import { expressionBuilder, type Expression } from 'kysely';
import type { DB } from '../db/db.ts';

export function actionTitle(
  action: { id: Expression<string>; defaultLocale: Expression<string>; slug: Expression<string> },
  preferredLocale?: Expression<string>,
) {
  const eb = expressionBuilder<DB, never>();
  return eb.fn.coalesce(
    eb
      .selectFrom('action_texts as t')
      .select('t.title')
      .where('t.action_id', '=', action.id)
      .$if(preferredLocale !== undefined, (q) => q.orderBy((e) => e('t.locale', '=', preferredLocale!), 'desc'))
      .orderBy((e) => e('t.locale', '=', action.defaultLocale), 'desc')
      .limit(1)
      .$asScalar(),
    action.slug,
  );
}
