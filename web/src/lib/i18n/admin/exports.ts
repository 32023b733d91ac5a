// Exports: CSV of signatures and letters, as jobs with progress.
import { defineArea } from './dict';

export const exportsText = defineArea('exports');
