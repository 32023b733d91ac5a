// The console's actions area: list, new action, editor, translations, target picker, letter preview.
import { defineArea } from './dict';

export const actionsText = defineArea('actions');
