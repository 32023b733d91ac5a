// Orders each project's files so the longest start first and the short ones fill the gaps at the
// end (the project then ends soon after its longest file): by the duration vitest recorded on an
// earlier run on this machine, else by file size.
import { statSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

export class CostSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cost = (f: TestSpecification) => {
      const cached = this.ctx.cache.getFileTestResults(`${f.project.name}:${relative(this.ctx.config.root, f.moduleId)}`)?.duration;
      if (cached) return cached;
      try {
        return statSync(f.moduleId).size;
      } catch {
        return 0;
      }
    };
    const group = (f: TestSpecification) => f.project.config.sequence.groupOrder;
    return [...files].sort((a, b) => group(a) - group(b) || (a.project.name < b.project.name ? -1 : a.project.name > b.project.name ? 1 : 0) || cost(b) - cost(a));
  }
}
