// A target's one-line name in the language of the text around it: "Name, Title, Office", with
// that language's comma (Arabic's is ،), and its own words for name and role where the
// directory has them.
import { describe, expect, it } from 'vitest';
import { localTargetLine } from './target-names.ts';

const eeas = {
  name: 'European External Action Service',
  title: 'EU Special Representative for Human Rights',
  organisation: 'European Union',
  language: 'en',
  names: { ar: { name: 'جهاز العمل الخارجي الأوروبي', title: 'الممثل الخاص للاتحاد الأوروبي لحقوق الإنسان', organisation: 'الاتحاد الأوروبي' } },
};

describe('localTargetLine', () => {
  it('joins the parts with the comma of the line’s language', () => {
    expect(localTargetLine(eeas, 'en')).toBe('European External Action Service, EU Special Representative for Human Rights, European Union');
    expect(localTargetLine(eeas, 'ar')).toBe('جهاز العمل الخارجي الأوروبي، الممثل الخاص للاتحاد الأوروبي لحقوق الإنسان، الاتحاد الأوروبي');
  });

  it('leaves out a missing part without a doubled comma', () => {
    expect(localTargetLine({ ...eeas, title: '', names: undefined }, 'ar')).toBe('European External Action Service، European Union');
    expect(localTargetLine({ ...eeas, title: '', names: undefined }, 'es')).toBe('European External Action Service, European Union');
  });
});
