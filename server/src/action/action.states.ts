import type { ActionStatus } from '../generated/kysely/enums.ts';
import { stateMachine } from '../shared/states.ts';

/** draft -> published -> closed -> archived; a closed action may be reopened. */
export const actionStates = stateMachine<ActionStatus>({
  DRAFT: ['PUBLISHED', 'ARCHIVED'],
  PUBLISHED: ['CLOSED'],
  CLOSED: ['PUBLISHED', 'ARCHIVED'],
  ARCHIVED: [],
});
