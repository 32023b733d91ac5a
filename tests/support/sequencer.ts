// Orders a group's files so the longest start first and the short ones fill the gaps at the end
// (the whole run then ends soon after its longest file). Files that start processes (faults,
// platform) come before in-process ones; within each, by the duration vitest recorded on an
// earlier run on this machine, else by file size.
import { statSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const RANK: Record<string, number> = { faults: 0, platform: 1, unit: 2, privacy: 3 };

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
    const rank = (f: TestSpecification) => RANK[f.project.name] ?? 2;
    const group = (f: TestSpecification) => f.project.config.sequence.groupOrder;
    return [...files].sort((a, b) => group(a) - group(b) || rank(a) - rank(b) || cost(b) - cost(a));
  }
}
