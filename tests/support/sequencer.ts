// Orders each group's files so the longest start first and the short ones fill the gaps at the
// end (the run then ends soon after its longest file), by the duration vitest recorded on an
// earlier run on this machine, else by file size; files that start processes (faults,
// platform) alternate with in-process ones.
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
    const heavy = (f: TestSpecification) => f.project.name === 'faults' || f.project.name === 'platform';
    const byCost = (a: TestSpecification, b: TestSpecification) => cost(b) - cost(a);
    const out: TestSpecification[] = [];
    for (const g of [...new Set(files.map(group))].sort((a, b) => a - b)) {
      const inGroup = files.filter((f) => group(f) === g);
      // heavy files (each starts processes that need CPU) alternate with in-process ones, so that
      // the workers are not all running platforms at once while the light files wait for the end
      const heavies = inGroup.filter(heavy).sort(byCost);
      const lights = inGroup.filter((f) => !heavy(f)).sort(byCost);
      while (heavies.length || lights.length) {
        if (heavies.length) out.push(heavies.shift()!);
        if (lights.length) out.push(lights.shift()!);
      }
    }
    return out;
  }
}
